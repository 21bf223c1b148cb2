// @ts-check
/** The client's version, sent as User-Agent and printed by --version. A test keeps it equal to package.json's. */
export const VERSION = "0.1.0";
