
/*
 * Copyright (C) bulletin authors
 *
 * A QR code as inline SVG, made at build time with libqrencode.
 */


#ifndef _BULLETIN_QR_H_INCLUDED_
#define _BULLETIN_QR_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* the longest text encoded: version 40 at level M holds 2331 bytes */
#define BULLETIN_QR_TEXT_MAX       2048

/* the light margin around the code, in modules, as ISO/IEC 18004 asks */
#define BULLETIN_QR_QUIET          4

/* pixels a module, for the svg's width and height (CSS may override) */
#define BULLETIN_QR_SCALE          4


/*
 * The QR code (error correction level M) of len bytes of text as one
 * <svg> element: one <path> of horizontal runs, the quiet zone as the
 * viewBox's margin.  Returns the bytes written to buf, or 0 when the
 * text is empty or longer than BULLETIN_QR_TEXT_MAX, cannot be encoded,
 * or buf (size bytes) is too small.  No NUL is counted (one may follow).
 */
size_t bulletin_qr_svg(const uint8_t *text, size_t len, uint8_t *buf,
    size_t size);


#endif /* _BULLETIN_QR_H_INCLUDED_ */
