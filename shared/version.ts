/** The running code's version, as package.json names it (the fleet status page shows it per node). */
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
