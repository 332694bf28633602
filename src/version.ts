/** The product name and version, embedded from package.json at build time. */
import pkg from "../package.json";

export const PRODUCT_NAME = "invoke";
export const PRODUCT_TITLE = "Invoke";
export const VERSION: string = pkg.version;
