#!/usr/bin/env node
'use strict';

/*
 * The reader's page in headless Chromium, driven by t/400-browser.t:
 *
 *   node reader.js --base http://127.0.0.1:PORT/bulletin/ --id ID
 *                  --status http://127.0.0.1:PORT/bulletin_status
 *                  --other ID2 --shots DIR [--chromium /usr/bin/chromium]
 *
 * It records what a reader's browser sees and does, and prints it as one
 * JSON document on stdout; the Perl test decides what passes.  Nothing
 * here judges, so a page that breaks shows up as a fact the test refuses.
 * The status JSON is read with Node's own fetch (not by the browser), so
 * the browser asks the server for nothing but the pages and the shares.
 *
 * Exit status: 0 with the report, 2 for bad arguments, 3 when Chromium
 * does not start (the test skips), 1 for anything else (the error on
 * stderr and, when possible, in the report).
 */

const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');

const VIEWPORTS = [
    { name: '360', width: 360, height: 740, mobile: true },
    { name: '1280', width: 1280, height: 900, mobile: false },
];

/* the flags Debian's chromium needs here: no sandbox as root, no GPU, no
 * traffic of its own (QUIC, updates, sync); and no name resolves, so that
 * nothing but the test server on 127.0.0.1 can ever be asked anything
 * (a request to weibo's or qq's site would fail and be seen) */
const ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
];

const WAIT = 15000;

let opts;

try {
    opts = parseArgs({
        options: {
            base: { type: 'string' },
            status: { type: 'string' },
            id: { type: 'string' },
            other: { type: 'string' },
            shots: { type: 'string' },
            chromium: { type: 'string', default: '/usr/bin/chromium' },
        },
    }).values;
} catch (e) {
    process.stderr.write(`reader.js: ${e.message}\n`);
    process.exit(2);
}

for (const k of ['base', 'status', 'id', 'other', 'shots']) {
    if (!opts[k]) {
        process.stderr.write(`reader.js: --${k} is required\n`);
        process.exit(2);
    }
}

const base = new URL(opts.base);
const origin = base.origin;
const pageUrl = new URL(opts.id, base).href;
const otherUrl = new URL(opts.other, base).href;
const report = { page: pageUrl, list: base.href, external: [], popups: [],
                 page_loads: 0, other_loads: 0 };

let browser;


async function status(id = opts.id) {
    const url = new URL(opts.status);

    url.searchParams.set('id', id);

    const res = await fetch(url, { cache: 'no-store' });

    if (!res.ok) {
        throw new Error(`status ${url}: ${res.status}`);
    }

    return res.json();
}


/* A browser context as a reader's: a phone or a desktop, with JavaScript
 * or without, the clipboard allowed, window.open recorded instead of
 * opening weibo's or qq's site, and any request that would leave the
 * test server recorded.  No request interception: it would turn the
 * browser's cache off, and a returning reader's cache is part of the
 * story. */

async function reader(vp, javaScriptEnabled = true) {
    const ctx = await browser.newContext({
        viewport: { width: vp.width, height: vp.height },
        isMobile: vp.mobile,
        hasTouch: vp.mobile,
        deviceScaleFactor: 1,
        javaScriptEnabled,
        locale: 'zh-CN',
        serviceWorkers: 'block',
    });

    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'],
                               { origin });

    await ctx.addInitScript(() => {
        window.__opened = [];
        window.open = function (url, target, features) {
            window.__opened.push({ url: String(url), target: target ?? null,
                                   features: features ?? null });
            return { closed: false, opener: window, close() {},
                     focus() {} };
        };
    });

    /* nothing may leave the test server (and the resolver sees to it) */
    ctx.on('request', (r) => {
        if (!r.url().startsWith(origin + '/')) {
            report.external.push(r.url());
        }
    });

    /* every load of the page by any reader, to compare with the views */
    ctx.on('request', (r) => {
        if (r.url() === pageUrl && r.method() === 'GET'
            && r.isNavigationRequest())
        {
            report.page_loads++;
        }
    });

    ctx.on('page', (p) => {
        p.on('popup', (w) => report.popups.push(w.url()));
    });

    return ctx;
}


/* Loads a URL in a new page and watches it: console messages, page
 * errors, failed requests, HTTP errors, every request made. */

async function open(ctx, url) {
    const page = await ctx.newPage();
    const seen = { console: [], errors: [], failed: [], http_errors: [],
                   requests: [] };

    page.on('console', (m) => seen.console.push({ type: m.type(),
                                                  text: m.text() }));
    page.on('pageerror', (e) => seen.errors.push(String(e)));
    page.on('requestfailed', (r) => seen.failed.push(
        { url: r.url(), error: r.failure() ? r.failure().errorText : '' }));
    page.on('request', (r) => seen.requests.push(
        { method: r.method(), url: r.url() }));
    page.on('response', (r) => {
        if (r.status() >= 400) {
            seen.http_errors.push({ url: r.url(), status: r.status() });
        }
    });

    const res = await page.goto(url, { waitUntil: 'load', timeout: WAIT });

    seen.status = res ? res.status() : null;

    return { page, seen };
}


/* What the reader sees of a bulletin page: its parts, their text, whether
 * they are on screen, and the width the page needs. */

function look(page) {
    return page.evaluate((vw) => {
        const q = (s) => document.querySelector(s);
        const text = (s) => (q(s) ? q(s).textContent.trim() : null);
        const shown = (el) => {
            if (!el) {
                return false;
            }
            const r = el.getBoundingClientRect();
            const cs = getComputedStyle(el);
            return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden'
                   && cs.display !== 'none' && Number(cs.opacity) > 0;
        };
        const wide = [];

        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) {
                wide.push(el.tagName.toLowerCase()
                          + (el.className ? '.' + el.className : ''));
            }
        }

        const body = q('.body');
        const p = q('.body p');

        return {
            title: document.title,
            h1: text('h1'),
            h1_shown: shown(q('h1')),
            header: text('.site'),
            crumbs: text('.crumbs'),
            crumb_links: [...document.querySelectorAll('.crumbs a')]
                .map((a) => ({ text: a.textContent, href: a.href })),
            /* an item that breaks inside is taller than a line */
            crumb_items: [...document.querySelectorAll('.crumbs li')]
                .map((li) => ({ text: li.textContent,
                                current: li.getAttribute('aria-current'),
                                wraps: li.getBoundingClientRect().height
                                       > 1.5 * parseFloat(
                                           getComputedStyle(li).lineHeight) })),
            head: {
                description: q('meta[name=description]')
                    ? q('meta[name=description]').content : null,
                canonical: q('link[rel=canonical]')
                    ? q('link[rel=canonical]').href : null,
                feed: q('link[rel=alternate]')
                    ? q('link[rel=alternate]').href : null,
                og: Object.fromEntries([...document.querySelectorAll(
                    'meta[property^="og:"]')].map((m) => [
                        m.getAttribute('property'), m.content])),
            },
            adjacent: [...document.querySelectorAll('.adjacent > *')]
                .map((a) => ({ rel: a.getAttribute('rel'),
                               href: a.href || null,
                               text: a.textContent })),
            footer: text('.foot'),
            footer_links: [...document.querySelectorAll('.foot a')]
                .map((a) => a.href),
            /* what can be tapped, and its size */
            targets: [...document.querySelectorAll('a[href], button')]
                .filter((el) => shown(el) && !el.closest('dialog'))
                .map((el) => ({ text: el.textContent.trim().slice(0, 20),
                                height: el.getBoundingClientRect().height })),
            subheading: q('.body h3') ? {
                align: getComputedStyle(q('.body h3')).textAlign,
                heading_align: q('.body h2')
                    ? getComputedStyle(q('.body h2')).textAlign : null,
            } : null,
            meta: text('.meta'),
            /* the meta line's values stand apart from their labels */
            meta_values: [...document.querySelectorAll('.meta b, .meta span span')]
                .map((b) => ({ text: b.textContent.trim(),
                               color: getComputedStyle(b).color,
                               label_color: getComputedStyle(b.parentElement)
                                   .color })),
            views: text('.meta .bulletin-views'),
            views_shown: shown(q('.meta .bulletin-views')),
            shares: text('.meta .bulletin-shares'),
            shares_shown: shown(q('.meta .bulletin-shares')),
            published: text('.meta time'),
            note_width: q('.bulletin-note')
                ? q('.bulletin-note').getBoundingClientRect().width : null,
            share_width: q('.share')
                ? q('.share').getBoundingClientRect().width : null,
            source: text('.source'),
            body_text: body ? body.innerText : null,
            body_shown: shown(body),
            paragraph: p ? {
                font_size: parseFloat(getComputedStyle(p).fontSize),
                line_height: parseFloat(getComputedStyle(p).lineHeight),
                width: p.getBoundingClientRect().width,
                font_family: getComputedStyle(p).fontFamily,
            } : null,
            buttons: [...document.querySelectorAll('button[data-channel]')]
                .map((b) => ({
                    channel: b.getAttribute('data-channel'),
                    label: b.textContent.replace(/\s*\d*\s*$/, '').trim(),
                    count: b.querySelector('.bulletin-share-count')
                        ? b.querySelector('.bulletin-share-count')
                            .textContent : null,
                    shown: shown(b),
                    in_share_bar: !!b.closest('.share'),
                })),
            digits_outside: [...document.querySelectorAll(
                '.bulletin-views, .bulletin-shares, .bulletin-share-count')]
                .filter((el) => !el.closest('.meta, .share'))
                .map((el) => el.className),
            scroll_width: document.scrollingElement.scrollWidth,
            inner_width: innerWidth,
            viewport_width: vw,
            wider_than_viewport: wide.slice(0, 10),
            js_class: document.documentElement.classList.contains('js'),
        };
    }, page.viewportSize().width);
}


/* The font Chromium actually draws a node's text with, from DevTools:
 * a CJK font with glyphs, or a fallback that draws boxes. */

async function fonts(page, selector) {
    const cdp = await page.context().newCDPSession(page);

    try {
        await cdp.send('DOM.enable');
        await cdp.send('CSS.enable');

        const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
        const { nodeId } = await cdp.send('DOM.querySelector',
                                           { nodeId: root.nodeId, selector });
        if (!nodeId) {
            return [];
        }

        const r = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });

        return r.fonts.map((f) => ({ family: f.familyName,
                                     glyphs: f.glyphCount }));
    } finally {
        await cdp.detach();
    }
}


async function shot(page, name) {
    const file = path.join(opts.shots, name);

    await page.screenshot({ path: file, fullPage: true });

    return file;
}


/* The page at each width: rendered, measured, photographed. */

async function layouts() {
    report.layouts = {};

    for (const vp of VIEWPORTS) {
        const ctx = await reader(vp);
        const { page, seen } = await open(ctx, pageUrl);
        const seenList = await open(ctx, base.href);

        report.layouts[vp.name] = {
            page: { ...seen, ...(await look(page)), axe: await axe(page),
                    fonts_h1: await fonts(page, 'h1'),
                    fonts_p: await fonts(page, '.body p'),
                    screenshot: await shot(page, `page-${vp.name}.png`) },
            list: { ...seenList.seen, ...(await lookList(seenList.page)),
                    axe: await axe(seenList.page),
                    screenshot: await shot(seenList.page,
                                           `list-${vp.name}.png`) },
        };

        await ctx.close();
    }
}


function lookList(page) {
    return page.evaluate((vw) => ({
        h1: document.querySelector('h1')
            ? document.querySelector('h1').textContent : null,
        title: document.title,
        pager: document.querySelector('.pager')
            ? document.querySelector('.pager').textContent.trim() : null,
        categories: [...document.querySelectorAll('.cats a')]
            .map((a) => ({ href: a.href, text: a.textContent })),
        footer: document.querySelector('.foot')
            ? document.querySelector('.foot').textContent.trim() : null,
        links: [...document.querySelectorAll('.list a')]
            .map((a) => ({ href: a.href, text: a.textContent.trim(),
                           views: a.parentElement.querySelector(
                               '.bulletin-views')
                               ? a.parentElement.querySelector(
                                   '.bulletin-views').textContent : null })),
        scroll_width: document.scrollingElement.scrollWidth,
        inner_width: innerWidth,
        viewport_width: vw,
    }), page.viewportSize().width);
}


/* axe-core's rules on the page as it is (its script injected from
 * t/browser/node_modules: no request): every violation, with its impact
 * and the first nodes it names. */

async function axe(page) {
    await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });

    const r = await page.evaluate(
        () => window.axe.run(document, { resultTypes: ['violations'] }));

    return {
        version: r.testEngine.version,
        violations: r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
        })),
    };
}


/* The 微信 button: on a desktop a dialog with the page's QR code, which is
 * photographed for zbarimg; on a phone the link copied.  On the other
 * bulletin, so that the test page's shares stay one a channel. */

async function wechat() {
    report.wechat = {};

    for (const vp of VIEWPORTS) {
        const ctx = await reader(vp);
        const { page, seen } = await open(ctx, otherUrl);
        const sel = 'button[data-channel="wechat"]';
        const before = seen.requests.length;

        await page.evaluate(() => navigator.clipboard.writeText(''));
        await page.locator(sel).scrollIntoViewIfNeeded();
        await page.click(sel);
        await page.waitForFunction(
            () => document.querySelector('dialog.wx').open
                  || document.querySelector('.bulletin-note').textContent,
            null, { timeout: WAIT }).catch(() => {});
        /* the share's POST answered */
        await page.waitForLoadState('networkidle').catch(() => {});

        const r = await page.evaluate(() => {
            const d = document.querySelector('dialog.wx');
            const svg = d.querySelector('svg');
            return {
                open: d.open,
                modal: d.matches(':modal'),
                text: d.innerText.trim(),
                svg: svg ? { role: svg.getAttribute('role'),
                             label: svg.getAttribute('aria-label'),
                             paths: svg.querySelectorAll('path').length }
                         : null,
                canonical: document.querySelector('link[rel=canonical]').href,
                note: document.querySelector('.bulletin-note').textContent,
            };
        });

        r.clipboard = await page.evaluate(() => navigator.clipboard.readText());
        r.requests = seen.requests.slice(before);
        r.errors = seen.errors;

        if (r.open) {
            r.screenshot = path.join(opts.shots, `qr-${vp.name}.png`);
            await page.locator('dialog.wx').screenshot({ path: r.screenshot });
            r.page_screenshot = await shot(page, `qr-page-${vp.name}.png`);
            r.axe = await axe(page);
            await page.keyboard.press('Escape');
            r.closed = !(await page.evaluate(
                () => document.querySelector('dialog.wx').open));
        }

        report.wechat[vp.name] = r;
        await ctx.close();
    }
}


/* Fresh counts: a reader loads the page; another client loads it (views
 * the reader's copy does not have); the reader loads it again (the
 * browser revalidates: a 304) and later comes back to it (the
 * back/forward cache).  Each time: what Navigation Timing says, the
 * requests for counts/ID, the counts shown and the server's. */

async function freshCounts() {
    const ctx = await reader(VIEWPORTS[1]);

    await ctx.addInitScript(() => {
        window.__pageshow = [];
        addEventListener('pageshow',
                         (e) => window.__pageshow.push(e.persisted));
    });

    const page = await ctx.newPage();
    const counts = [];
    const others = async (n) => {
        for (let i = 0; i < n; i++) {
            const res = await fetch(pageUrl);
            await res.text();
            report.other_loads++;
        }
    };
    const state = async () => {
        /* the counts request, when there is one, answered */
        await page.waitForLoadState('networkidle').catch(() => {});

        const l = await look(page);

        return {
            nav: await page.evaluate(() => {
                const n = performance.getEntriesByType('navigation')[0];
                return { type: n.type, response_status: n.responseStatus,
                         transfer_size: n.transferSize,
                         encoded_body_size: n.encodedBodySize };
            }),
            pageshow: await page.evaluate(() => window.__pageshow),
            counts_requests: counts.splice(0),
            shown: { views: Number(l.views), shares: Number(l.shares),
                     shares_by_channel: Object.fromEntries(l.buttons.map(
                         (b) => [b.channel, Number(b.count)])) },
            server: await status(),
        };
    };

    page.on('response', (r) => {
        if (r.url().includes('/counts/')) {
            counts.push({ url: r.url(), status: r.status(),
                          cache_control: r.headers()['cache-control'] });
        }
    });

    await page.goto(pageUrl, { waitUntil: 'load', timeout: WAIT });

    const first = await state();

    await others(3);

    const statuses = [];
    const watch = (r) => {
        if (r.url() === pageUrl) {
            statuses.push(r.status());
        }
    };

    page.on('response', watch);
    await page.goto(pageUrl, { waitUntil: 'load', timeout: WAIT });
    page.off('response', watch);

    const again = await state();

    again.statuses = statuses;
    await page.goto(base.href, { waitUntil: 'load', timeout: WAIT });
    await others(2);
    /* a page restored from the back/forward cache fires no load */
    await page.goBack({ waitUntil: 'commit', timeout: WAIT });
    await page.waitForFunction(() => window.__pageshow
                                      && window.__pageshow.length > 1,
                               null, { timeout: WAIT }).catch(() => {});

    const back = await state();

    report.fresh = { first, again, back,
                     screenshot: await shot(page, 'page-fresh-1280.png') };
    await ctx.close();
}


/* Views: a reader with nothing cached loads the page three times (a new
 * context each time: a new reader), and the count must grow by one a
 * load.  Then a returning reader, whose browser revalidates its copy. */

async function views() {
    const fresh = [];

    for (let i = 0; i < 3; i++) {
        const ctx = await reader(VIEWPORTS[0]);
        const { page, seen } = await open(ctx, pageUrl);

        fresh.push({ shown: (await look(page)).views, status: seen.status,
                     server: (await status()).views });
        await ctx.close();
    }

    const ctx = await reader(VIEWPORTS[0]);
    const { page } = await open(ctx, pageUrl);
    const returning = [(await look(page)).views];
    const before = (await status()).views;
    const responses = [];

    page.on('response', (r) => {
        if (r.url() === pageUrl) {
            responses.push(r.status());
        }
    });

    /* each load from the browser's cache asks for fresh counts */
    await page.goto(pageUrl, { waitUntil: 'networkidle', timeout: WAIT });
    returning.push((await look(page)).views);
    await page.reload({ waitUntil: 'networkidle', timeout: WAIT });
    returning.push((await look(page)).views);

    report.views = {
        fresh,
        returning: { shown: returning, server_before: before,
                     server_after: (await status()).views, responses },
    };

    await ctx.close();
}


/* Shares: a click on each button of the share bar, one at a time, with
 * the server's counts before and after, the page's counts, what the
 * button did (a window opened, the clipboard, the note). */

async function shares() {
    const vp = VIEWPORTS[0];
    const ctx = await reader(vp);
    const { page, seen } = await open(ctx, pageUrl);
    const clicks = [];
    const buttons = (await look(page)).buttons;

    for (const b of buttons) {
        const sel = `button[data-channel="${b.channel}"]`;
        const server = await status();
        const before = await look(page);
        const posted = page.waitForResponse(
            (r) => r.url().includes('/share?') && r.request().method() === 'POST',
            { timeout: WAIT }).catch((e) => e);

        await page.evaluate(() => {
            window.__opened.length = 0;
            document.querySelector('.bulletin-note').textContent = '';
        });
        await page.evaluate(() => navigator.clipboard.writeText(''));

        await page.locator(sel).scrollIntoViewIfNeeded();
        await page.click(sel);

        const res = await posted;
        const own = (s) => s.buttons.find((x) => x.channel === b.channel);

        /* the page updates its counts once the server answered */
        await page.waitForFunction(
            ([s, n]) => document.querySelector(s + ' .bulletin-share-count')
                            .textContent !== n,
            [sel, own(before).count], { timeout: WAIT }).catch(() => {});
        await page.waitForFunction(
            () => document.querySelector('.bulletin-note').textContent !== ''
                  || window.__opened.length > 0,
            null, { timeout: WAIT }).catch(() => {});

        const after = await look(page);

        clicks.push({
            channel: b.channel,
            label: b.label,
            post: res instanceof Error ? { error: String(res) }
                  : { url: res.url(), status: res.status(),
                      method: res.request().method() },
            server_before: server,
            server_after: await status(),
            page_before: { own: own(before).count, total: before.shares },
            page_after: { own: own(after).count, total: after.shares,
                          note_width: after.note_width,
                          share_width: after.share_width },
            opened: await page.evaluate(() => window.__opened.slice()),
            clipboard: await page.evaluate(
                () => navigator.clipboard.readText()),
            note: await page.evaluate(
                () => document.querySelector('.bulletin-note').textContent),
            location: page.url(),
            h1: after.h1,
        });
    }

    report.shares = { clicks, page: seen,
                      screenshot: await shot(page, 'page-shared-360.png') };

    /* a new reader's load shows the server's counts; and this reader's
     * next load, from a browser that keeps a copy of the page */
    const server = await status();
    const fresh = await reader(vp);
    const counts = async (p) => {
        const l = await look(p);
        return { total: l.shares,
                 buttons: Object.fromEntries(
                     l.buttons.map((x) => [x.channel, x.count])) };
    };

    report.shares.reloaded = { ...(await counts(
                                   (await open(fresh, pageUrl)).page)),
                               server };
    await fresh.close();

    const revisit = (await open(ctx, pageUrl)).page;

    await revisit.waitForLoadState('networkidle').catch(() => {});
    report.shares.revisited = { ...(await counts(revisit)),
                                server: await status() };

    await ctx.close();
}


/* The reader without JavaScript: the page still reads. */

async function noScript() {
    report.nojs = {};

    for (const vp of VIEWPORTS) {
        const ctx = await reader(vp, false);
        const { page, seen } = await open(ctx, pageUrl);

        report.nojs[vp.name] = { ...seen, ...(await look(page)),
                                 screenshot: await shot(page,
                                     `page-nojs-${vp.name}.png`) };
        await ctx.close();
    }
}


/* Links: the breadcrumb's category goes to the list, the list's links go
 * to the pages. */

async function navigation() {
    const ctx = await reader(VIEWPORTS[0]);
    const { page } = await open(ctx, pageUrl);

    await page.click('.crumbs li:nth-last-child(2) a');
    await page.waitForLoadState('load');

    const crumb = { url: page.url(), h1: (await lookList(page)).h1 };

    await page.click(`.list a[href$="/${opts.id}"], .list a[href="${opts.id}"]`);
    await page.waitForLoadState('load');

    report.navigation = { crumb,
                          list_link: { url: page.url(),
                                       h1: (await look(page)).h1 } };

    await ctx.close();
}


async function main() {
    const { chromium } = require('playwright-core');

    fs.mkdirSync(opts.shots, { recursive: true });

    try {
        browser = await chromium.launch({
            executablePath: opts.chromium,
            headless: true,
            args: [...ARGS, '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE '
                            + base.hostname],
            timeout: 60000,
            /* a reader's browser keeps pages in its back/forward cache */
            ignoreDefaultArgs: ['--disable-back-forward-cache'],
        });
    } catch (e) {
        process.stderr.write(`reader.js: chromium does not start: ${e.message}\n`);
        process.exit(3);
    }

    report.browser = browser.version();

    try {
        report.server_start = await status();
        await layouts();
        await wechat();
        await freshCounts();
        await views();
        await shares();
        await noScript();
        await navigation();
        report.server_end = await status();
    } catch (e) {
        report.error = String(e && e.stack || e);
    } finally {
        await browser.close();
    }

    process.stdout.write(JSON.stringify(report, null, 1) + '\n');

    if (report.error) {
        process.stderr.write(`reader.js: ${report.error}\n`);
        process.exit(1);
    }
}


/* a signal closes the browser: no chromium is left behind */
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
        if (browser) {
            await browser.close().catch(() => {});
        }
        process.exit(128 + os.constants.signals[sig]);
    });
}

main().catch((e) => {
    process.stderr.write(`reader.js: ${e && e.stack || e}\n`);
    process.exit(1);
});
