// Development values: scripts/build-control-ui.py writes the real ones into the packaged UI.
export const UI_VERSION = "dev";
export const UI_BUILD_ID = "dev";
// The UI's web root (the gateway's controlUi.basePath), from this module's URL: <root>/lib/.
export const UI_ROOT = new URL("../", import.meta.url);
