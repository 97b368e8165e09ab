// Renders report.html of a synthetic run folder in headless Chromium (Debian `chromium`) and
// checks that it loads without console errors, exceptions, log errors or external requests,
// and that Table 1, the figures and the overlays are visible. The full-page screenshot is kept
// in tests/e2e/artifacts/ (git-ignored). Outside CI a missing Chromium marks the test ignored;
// in CI (`CI` set) it fails.
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { writeReport } from "../../lib/report/report.ts";
import { epsilonSweepSvg } from "../../lib/report/epsilon_sweep.ts";
import { linePlotSvg } from "../../lib/report/line_plot.ts";
import { writeSyntheticRun } from "./report_fixture.ts";
import { findChromium, HeadlessBrowser, type PageProblems } from "./report_browser.ts";

const CHROMIUM = findChromium();
const IN_CI = Boolean(Deno.env.get("CI"));
const ARTIFACTS = new URL("./artifacts/", import.meta.url);

interface PageState {
  tableVisible: boolean;
  tableRows: number;
  tableCells: number;
  inferiorCells: number;
  figures: Record<string, { visible: boolean; width: number; height: number; paths: number }>;
  overlays: { complete: boolean; width: number; height: number; visible: boolean }[];
}

const INSPECT = `(() => {
  const visible = (el) => {
    if (!el) return false;
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none" &&
      Number(s.opacity) > 0;
  };
  const table = document.querySelector("table#table1");
  const figures = {};
  for (const svg of document.querySelectorAll("svg.dl-plot")) {
    const r = svg.getBoundingClientRect();
    figures[svg.id] = {
      visible: visible(svg), width: r.width, height: r.height,
      paths: svg.querySelectorAll("path.dl-series").length,
    };
  }
  return {
    tableVisible: visible(table),
    tableRows: table ? table.tBodies[0].rows.length : 0,
    tableCells: table ? table.tBodies[0].querySelectorAll("td").length : 0,
    inferiorCells: document.querySelectorAll("#table1 td.inferior").length,
    figures,
    overlays: [...document.querySelectorAll("img.overlay")].map((img) => ({
      complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
      visible: visible(img),
    })),
  };
})()`;

function noProblems(p: PageProblems): boolean {
  return p.consoleErrors.length + p.exceptions.length + p.logErrors.length +
      p.externalRequests.length === 0;
}

Deno.test({
  name: "report.html renders in headless chromium without console errors",
  ignore: !CHROMIUM && !IN_CI,
  async fn(t) {
    if (!CHROMIUM) {
      throw new Error(
        "Cannot run the browser test: chromium is not installed (apt-get install -y chromium)",
      );
    }
    const dir = await Deno.makeTempDir({ prefix: "dicelab_browser_" });
    await using browser = await HeadlessBrowser.launch(CHROMIUM);
    try {
      await writeSyntheticRun(dir);
      const sweep = epsilonSweepSvg(
        [1e-7, 1e-3, 1, 1e2, 1e3, 1e4, 1e5].map((epsilon, i) => ({
          epsilon,
          value: [0.88, 0.88, 0.87, 0.8, 0.55, 0.2, 0.1][i],
        })),
        { metricLabel: "Mean DSC (LGG)", heuristicEpsilon: 8789 },
      );
      const telemetry = linePlotSvg(
        [{ label: "|∇ empty| / |∇ labelled|", x: [0, 50, 100, 150], y: [1, 3, 8, 20] }],
        { id: "telemetry", xLabel: "step", yLabel: "ratio", yScale: "log" },
      );
      await writeReport(dir, {
        workers: 0,
        resamples: 499,
        figures: [
          { id: "epsilon", title: "ε sweep", svg: sweep },
          { id: "telemetry", title: "Gradient telemetry", svg: telemetry },
        ],
      });

      await t.step(
        "it loads with no errors and shows the table, figures and overlays",
        async () => {
          const url = `file://${dir}/report.html`;
          const { sessionId, problems } = await browser.open(url, { width: 1400, height: 1000 });
          assert.ok(noProblems(problems), `problems: ${JSON.stringify(problems, null, 2)}`);
          const state = await browser.evaluate<PageState>(sessionId, INSPECT);
          assert.ok(state.tableVisible, "Table 1 is not visible");
          assert.equal(state.tableRows, 4); // full/partial × B 1, 2
          assert.equal(state.tableCells, 4 * 13); // B + 12 values per row
          assert.ok(state.inferiorCells >= 3, `inferior cells: ${state.inferiorCells}`);
          assert.deepEqual(Object.keys(state.figures).sort(), [
            "epsilon-sweep",
            "roc-figure",
            "telemetry",
          ]);
          for (const [id, f] of Object.entries(state.figures)) {
            assert.ok(f.visible && f.width > 200 && f.height > 150, `${id}: ${JSON.stringify(f)}`);
          }
          assert.equal(state.figures["roc-figure"].paths, 6);
          assert.equal(state.overlays.length, 2);
          for (const o of state.overlays) {
            assert.ok(
              o.complete && o.width > 100 && o.height > 100 && o.visible,
              JSON.stringify(o),
            );
          }
          const shot = await browser.screenshot(sessionId);
          await Deno.mkdir(ARTIFACTS, { recursive: true });
          await Deno.writeFile(new URL("report_browser.png", ARTIFACTS), shot);
          // The screenshot is a real rendering: tall full page, not a blank canvas.
          const png = decode(shot);
          assert.ok(png.width >= 1400 && png.height > 1000, `${png.width}×${png.height}`);
          const first = png.data.subarray(0, png.channels);
          let differing = 0;
          for (let i = 0; i < png.data.length; i += png.channels * 97) {
            if (png.data[i] !== first[0]) differing++;
          }
          assert.ok(differing > 1000, "screenshot looks blank");
        },
      );

      await t.step(
        "the harness catches injected console errors, exceptions and loads",
        async () => {
          // Console error and uncaught exception in a page without a CSP.
          await Deno.writeTextFile(
            `${dir}/broken.html`,
            `<!DOCTYPE html><html><body><p>broken</p><script>
            console.error("injected console error");
            setTimeout(() => { throw new Error("injected exception"); }, 0);
          </script></body></html>`,
          );
          const broken = await browser.open(`file://${dir}/broken.html`);
          assert.deepEqual(broken.problems.consoleErrors, ["injected console error"]);
          assert.equal(broken.problems.exceptions.length, 1);
          assert.match(broken.problems.exceptions[0], /injected exception/);
          // The report's CSP turns an injected external image into a reported violation.
          const html = await Deno.readTextFile(`${dir}/report.html`);
          await Deno.writeTextFile(
            `${dir}/injected.html`,
            html.replace("</main>", `<img src="https://example.invalid/x.png" alt=""></main>`),
          );
          const injected = await browser.open(`file://${dir}/injected.html`);
          assert.ok(!noProblems(injected.problems), "an external image went unnoticed");
          assert.ok(
            [...injected.problems.logErrors, ...injected.problems.consoleErrors].some((m) =>
              /Content Security Policy/i.test(m)
            ),
            JSON.stringify(injected.problems),
          );
        },
      );
    } catch (err) {
      (err as Error).message += `\nchromium stderr (tail):\n${browser.stderrTail}`;
      throw err;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
