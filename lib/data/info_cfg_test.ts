import assert from "node:assert/strict";
import { formatInfoCfg, parseInfoCfg } from "./info_cfg.ts";

const REAL = "ED: 1\nES: 12\nGroup: DCM\nHeight: 184.0\nNbFrame: 30\nWeight: 95.0\n";

Deno.test("parseInfoCfg reads the six ACDC fields", () => {
  assert.deepEqual(parseInfoCfg(REAL, "p/Info.cfg"), {
    ED: 1,
    ES: 12,
    Group: "DCM",
    Height: 184,
    NbFrame: 30,
    Weight: 95,
  });
});

Deno.test("parseInfoCfg accepts CRLF line ends and a missing Group (ACDC test set)", () => {
  assert.deepEqual(parseInfoCfg("ED: 1\r\nES: 9\r\n", "x"), { ED: 1, ES: 9 });
});

Deno.test("formatInfoCfg writes what parseInfoCfg reads, in the ACDC style", () => {
  const info = parseInfoCfg(REAL, "x");
  assert.equal(formatInfoCfg(info), REAL);
});

Deno.test("parseInfoCfg names the file and the problem", () => {
  const cases: [string, RegExp][] = [
    ["ED: 1\nES 12\n", /line 2 "ES 12" is not "Key: value"/],
    ["\u0000\u0001garbage", /line 1 .* is not "Key: value"/],
    ["ES: 12\n", /ED is missing/],
    ["ED: 1\nES: twelve\n", /ES is "twelve", expected a positive integer/],
    ["ED: 0\nES: 3\n", /ED is "0"/],
    ["ED: 1\nES: 3\nGroup: XYZ\n", /Group is "XYZ", expected one of DCM, HCM, MINF, NOR, RV/],
    ["ED: 1\nES: 3\nHeight: tall\n", /Height is "tall", not a number/],
    ["ED: 4\nES: 4\n", /ED and ES are both 4/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(
      () => parseInfoCfg(text, "/data/patient007/Info.cfg"),
      (err: Error) =>
        err instanceof SyntaxError && err.message.includes("/data/patient007/Info.cfg") &&
        pattern.test(err.message),
      text,
    );
  }
});
