
/*
 * Copyright (C) bulletin authors
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <qrencode.h>

#include "bulletin_qr.h"


typedef struct {
    uint8_t                 *p;
    uint8_t                 *end;
    int                      full;
} bulletin_qr_out_t;


static void bulletin_qr_printf(bulletin_qr_out_t *out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;



size_t
bulletin_qr_svg(const uint8_t *text, size_t len, uint8_t *buf, size_t size)
{
    int                 x, y, run, dark, cx, cy;
    char                str[BULLETIN_QR_TEXT_MAX + 1];
    QRcode             *qr;
    bulletin_qr_out_t   out;

    if (len == 0 || len > BULLETIN_QR_TEXT_MAX
        || memchr(text, '\0', len) != NULL)
    {
        return 0;
    }

    memcpy(str, text, len);
    str[len] = '\0';

    qr = QRcode_encodeString(str, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL) {
        return 0;
    }

    out.p = buf;
    out.end = buf + size;
    out.full = 0;

    bulletin_qr_printf(&out, "<svg "
                       "class=\"qr\" role=\"img\" aria-label=\"本页二维码\" "
                       "viewBox=\"-%d -%d %d %d\" width=\"%d\" "
                       "height=\"%d\" shape-rendering=\"crispEdges\">"
                       "<path stroke=\"#000\" d=\"M0 .5",
                       BULLETIN_QR_QUIET, BULLETIN_QR_QUIET,
                       qr->width + 2 * BULLETIN_QR_QUIET,
                       qr->width + 2 * BULLETIN_QR_QUIET,
                       (qr->width + 2 * BULLETIN_QR_QUIET)
                       * BULLETIN_QR_SCALE,
                       (qr->width + 2 * BULLETIN_QR_QUIET)
                       * BULLETIN_QR_SCALE);

    /*
     * Each run of dark modules is a 1-wide stroke along its row's middle,
     * every move relative to where the last run ended: rows repeat, and
     * gzip finds them.
     */

    cx = 0;
    cy = 0;

    for (y = 0; y < qr->width; y++) {
        for (x = 0; x < qr->width; x += run) {
            dark = qr->data[y * qr->width + x] & 1;

            for (run = 1; x + run < qr->width
                          && (qr->data[y * qr->width + x + run] & 1) == dark;
                 run++)
            {
                /* void */
            }

            if (!dark) {
                continue;
            }

            if (x != cx || y != cy) {
                bulletin_qr_printf(&out, "m%d %d", x - cx, y - cy);
            }

            bulletin_qr_printf(&out, "h%d", run);

            cx = x + run;
            cy = y;
        }
    }

    bulletin_qr_printf(&out, "\"/></svg>");

    QRcode_free(qr);

    return out.full ? 0 : (size_t) (out.p - buf);
}


static void
bulletin_qr_printf(bulletin_qr_out_t *out, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (out->full) {
        return;
    }

    va_start(args, fmt);
    n = vsnprintf((char *) out->p, (size_t) (out->end - out->p), fmt, args);
    va_end(args);

    if (n < 0 || n >= out->end - out->p) {
        out->full = 1;
        return;
    }

    out->p += n;
}
