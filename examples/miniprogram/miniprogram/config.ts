/**
 * The one place to point the example at your Worker.
 *
 * BASE_URL — where the wxpay-edge Worker answers:
 *  - `npm run dev` on this computer, opened in WeChat DevTools: "http://127.0.0.1:8787"
 *    (tick "Does not verify valid domain names…" / 不校验合法域名 in DevTools' local settings;
 *    project.config.json already sets urlCheck: false);
 *  - a phone previewing the app: a deployed Worker connected to real WeChat (`npm run dev` listens
 *    on 127.0.0.1 only, and its local notify URL refuses requests under any other host name);
 *  - production: your Worker's https URL, added as a request domain (request合法域名) in the
 *    mini-program admin console.
 */
export const BASE_URL = "http://127.0.0.1:8787";

/**
 * Only for trying the example in WeChat DevTools against `npm run dev`'s WeChat simulator:
 * DevTools' own wx.login codes and payment sheet belong to real WeChat, which the simulator
 * cannot know. Set this to the simulator ("http://127.0.0.1:8788") and the app gets its login
 * code from the simulator and "pays" there (the simulator checks paySign like WeChat does).
 * Keep it null with a Worker that talks to real WeChat.
 */
export const SIMULATOR_URL: string | null = null;
