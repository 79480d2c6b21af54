#!/usr/bin/env node
'use strict';

/*
 * The README's screenshots, in Debian's headless Chromium (run by
 * t/browser/screenshots.pl, which serves a store of 45 bulletins):
 *
 *   node screenshots.js --base http://127.0.0.1:PORT/bulletin/ --id ID
 *                       --out DIR [--chromium /usr/bin/chromium]
 *
 * list.png (the first list page, 1280 px), list-page-2.png (the second
 * page, 360 px), qr.png (the 微信 dialog on bulletin ID, 1280 px) and
 * footer.png (the end of bulletin ID: 上一篇/下一篇 and the footer, 360 px).
 */

const path = require('path');
const { parseArgs } = require('util');
const { chromium } = require('playwright-core');

const opts = parseArgs({
    options: {
        base: { type: 'string' },
        id: { type: 'string' },
        out: { type: 'string' },
        chromium: { type: 'string', default: '/usr/bin/chromium' },
    },
}).values;

async function main() {
    const browser = await chromium.launch({
        executablePath: opts.chromium,
        args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    const shot = async (w, h, url, name, act) => {
        const ctx = await browser.newContext({
            viewport: { width: w, height: h }, isMobile: w < 600,
            hasTouch: w < 600, deviceScaleFactor: w < 600 ? 2 : 1,
            locale: 'zh-CN' });
        const page = await ctx.newPage();

        await page.goto(new URL(url, opts.base).href, { waitUntil: 'load' });

        const target = act ? await act(page) : null;
        const file = path.join(opts.out, name);

        if (target) {
            await target.screenshot({ path: file });
        } else {
            await page.screenshot({ path: file });
        }

        process.stdout.write(`${file}\n`);
        await ctx.close();
    };

    await shot(1280, 900, '', 'list.png');
    await shot(360, 740, '_index-2', 'list-page-2.png', async (page) => {
        await page.locator('.pager').scrollIntoViewIfNeeded();
        return null;
    });
    await shot(1280, 800, opts.id, 'qr.png', async (page) => {
        await page.click('button[data-channel="wechat"]');
        await page.waitForFunction(() => document.querySelector('dialog.wx').open);
        return null;
    });
    await shot(360, 740, opts.id, 'footer.png', async (page) => {
        await page.evaluate(() => scrollTo(0, document.body.scrollHeight));
        return null;
    });

    await browser.close();
}

main().catch((e) => {
    process.stderr.write(`screenshots.js: ${e && e.stack || e}\n`);
    process.exit(1);
});
