/**
 * A minimal headless-Chromium driver for the browser tests, over the DevTools protocol
 * (WebSocket): open a page, collect console errors, uncaught exceptions, log errors (CSP
 * violations, failed loads) and network requests, evaluate expressions, take screenshots.
 */

/** Flags for a closed, reproducible headless browser (no network services, fresh profile). */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--hide-scrollbars",
  "--remote-debugging-port=0",
];

/** What a page reported while loading. */
export interface PageProblems {
  /** console.error / console.assert calls. */
  consoleErrors: string[];
  /** Uncaught exceptions. */
  exceptions: string[];
  /** Browser log entries of level error (CSP violations, failed loads, …). */
  logErrors: string[];
  /** Requests for anything but `data:` URLs and the page itself. */
  externalRequests: string[];
}

/**
 * Find the Chromium binary: `$CHROMIUM_PATH`, else `chromium` / `chromium-browser` on PATH.
 *
 * @returns The path, or undefined.
 */
export function findChromium(): string | undefined {
  const explicit = Deno.env.get("CHROMIUM_PATH");
  if (explicit) return explicit;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch { /* not here */ }
    }
  }
  return undefined;
}

type CdpMessage = {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  sessionId?: string;
  result?: Record<string, unknown>;
  error?: { message: string };
};

function _withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Cannot ${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A running headless Chromium with one DevTools connection. */
export class HeadlessBrowser {
  #child: Deno.ChildProcess;
  #profile: string;
  #ws: WebSocket;
  #nextId = 1;
  #pending = new Map<
    number,
    { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  #listeners = new Set<(msg: CdpMessage) => void>();
  #stderrTail: string[];
  #stderrDone: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    profile: string,
    ws: WebSocket,
    stderrTail: string[],
    stderrDone: Promise<void>,
  ) {
    this.#child = child;
    this.#profile = profile;
    this.#ws = ws;
    this.#stderrTail = stderrTail;
    this.#stderrDone = stderrDone;
    ws.onclose = () => {
      for (const p of this.#pending.values()) p.reject(new Error("CDP connection closed"));
      this.#pending.clear();
    };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data as string) as CdpMessage;
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`CDP error: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else {
        for (const l of this.#listeners) l(msg);
      }
    };
  }

  /**
   * Start Chromium with a fresh profile and connect to its DevTools endpoint.
   *
   * @param binary Chromium path.
   * @returns The browser.
   */
  static async launch(binary: string): Promise<HeadlessBrowser> {
    const profile = await Deno.makeTempDir({ prefix: "dicelab_chromium_" });
    const child = new Deno.Command(binary, {
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "about:blank"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const tail: string[] = [];
    let resolveUrl: (url: string) => void = () => {};
    const urlPromise = new Promise<string>((r) => (resolveUrl = r));
    // Keep draining stderr so Chromium never blocks on a full pipe.
    const stderrDone = (async () => {
      const decoder = new TextDecoder();
      let buf = "";
      for await (const chunk of child.stderr) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          tail.push(line);
          if (tail.length > 40) tail.shift();
          const m = /DevTools listening on (ws:\/\/\S+)/.exec(line);
          if (m) resolveUrl(m[1]);
        }
      }
    })();
    let wsUrl: string;
    try {
      wsUrl = await _withTimeout(urlPromise, 30_000, "start chromium");
    } catch (err) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await stderrDone;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw new Error(`${(err as Error).message}\n${tail.join("\n")}`);
    }
    const ws = new WebSocket(wsUrl);
    await _withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error(`Cannot connect to ${wsUrl}`));
      }),
      10_000,
      "connect to chromium",
    );
    return new HeadlessBrowser(child, profile, ws, tail, stderrDone);
  }

  /**
   * Send a DevTools command.
   *
   * @param method Command name.
   * @param params Parameters.
   * @param sessionId Target session (flattened protocol).
   * @returns The result.
   */
  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return _withTimeout(p, 30_000, `run ${method}`);
  }

  /**
   * Open `url` in a new tab of the given size, wait for the load event and a short settle
   * time, and return the session id and everything the page reported.
   *
   * @param url Page URL (file://).
   * @param size Viewport size in CSS px.
   * @returns The session and the problems seen.
   */
  async open(
    url: string,
    size = { width: 1280, height: 900 },
  ): Promise<{ sessionId: string; problems: PageProblems }> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true }) as {
      sessionId: string;
    };
    const problems: PageProblems = {
      consoleErrors: [],
      exceptions: [],
      logErrors: [],
      externalRequests: [],
    };
    let loaded: () => void = () => {};
    const loadedP = new Promise<void>((r) => (loaded = r));
    const listener = (msg: CdpMessage) => {
      if (msg.sessionId !== sessionId || !msg.params) return;
      // deno-lint-ignore no-explicit-any
      const p = msg.params as Record<string, any>;
      switch (msg.method) {
        case "Runtime.consoleAPICalled":
          if (p.type === "error" || p.type === "assert") {
            problems.consoleErrors.push(
              (p.args ?? []).map((a: { value?: unknown; description?: string }) =>
                a.value ?? a.description ?? ""
              ).join(" "),
            );
          }
          break;
        case "Runtime.exceptionThrown":
          problems.exceptions.push(
            p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text ?? "exception",
          );
          break;
        case "Log.entryAdded":
          if (p.entry?.level === "error") {
            problems.logErrors.push(`${p.entry.source}: ${p.entry.text}`);
          }
          break;
        case "Network.requestWillBeSent": {
          const u = String(p.request?.url ?? "");
          if (!u.startsWith("data:") && u !== url) problems.externalRequests.push(u);
          break;
        }
        case "Page.loadEventFired":
          loaded();
          break;
      }
    };
    this.#listeners.add(listener);
    for (const domain of ["Runtime", "Log", "Page", "Network"]) {
      await this.send(`${domain}.enable`, {}, sessionId);
    }
    await this.send("Emulation.setDeviceMetricsOverride", {
      ...size,
      deviceScaleFactor: 1,
      mobile: false,
    }, sessionId);
    await this.send("Page.navigate", { url }, sessionId);
    await _withTimeout(loadedP, 30_000, `load ${url}`);
    // Late errors (timers, image decoding) surface within a few frames.
    await new Promise((r) => setTimeout(r, 300));
    return { sessionId, problems };
  }

  /**
   * Evaluate an expression in the page and return its JSON value.
   *
   * @param sessionId Target session.
   * @param expression JavaScript expression.
   * @returns Its value.
   */
  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const r = await this.send(
      "Runtime.evaluate",
      { expression, returnByValue: true },
      sessionId,
    ) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (r.exceptionDetails) throw new Error(`Cannot evaluate in page: ${r.exceptionDetails.text}`);
    return r.result.value;
  }

  /**
   * Full-page PNG screenshot.
   *
   * @param sessionId Target session.
   * @returns PNG bytes.
   */
  async screenshot(sessionId: string): Promise<Uint8Array> {
    const metrics = await this.send("Page.getLayoutMetrics", {}, sessionId) as {
      cssContentSize: { width: number; height: number };
    };
    const { width, height } = metrics.cssContentSize;
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: Math.ceil(width), height: Math.ceil(height), scale: 1 },
    }, sessionId) as { data: string };
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  /** Last lines Chromium wrote to stderr (for failure messages). */
  get stderrTail(): string {
    return this.#stderrTail.join("\n");
  }

  /** Close the browser (politely, then by signal) and remove its profile. */
  async close(): Promise<void> {
    try {
      await _withTimeout(this.send("Browser.close"), 5_000, "close chromium");
    } catch { /* fall through to the signal */ }
    this.#ws.close();
    const exited = await _withTimeout(this.#child.status, 10_000, "wait for chromium").then(
      () => true,
      () => false,
    );
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
      await this.#child.status;
    }
    await this.#stderrDone;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }

  /** Close at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
