/** README's overview of the repository names every directory of infra/, so none is left to be found by chance. */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import { readRepoFile } from "../helpers/deploy-code.ts";

it("the overview's infra/ entry names every directory under infra/", () => {
  const readme = readRepoFile("README.md");
  const start = readme.indexOf("- **`infra/`**");
  expect(start).toBeGreaterThan(0);
  const entry = readme.slice(start, readme.indexOf("\n- **", start + 1));
  const dirs = readdirSync(join(REPO_ROOT, "infra"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `infra/${d.name}`);
  expect(dirs.length).toBeGreaterThan(0);
  expect(dirs.filter((d) => !entry.includes(`\`${d}\``))).toEqual([]);
});
