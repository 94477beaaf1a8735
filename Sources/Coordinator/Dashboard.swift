import Analysis
import CoordinatorAPI
import Foundation

/// The coordinator's web pages: the runs overview at `/` and one run at `/runs/{id}`.
///
/// Pages are rendered on the server (readable without scripts) and then keep themselves up to
/// date with a small inline script that polls the read-only JSON API; nothing is fetched from
/// anywhere but the coordinator itself.
public enum Dashboard {
    /// The cookie that carries the client token for the pages and their polling.
    static let cookieName = "lassoboot_token"

    /// HTML text and attribute escaping (the report renderer's).
    static func escape(_ s: String) -> String { SVG.escape(s) }

    static func percent(_ part: Int, _ whole: Int) -> String {
        whole > 0 ? String(format: "%.1f%%", 100 * Double(part) / Double(whole)) : "0.0%"
    }

    static func stamp(_ t: Double?) -> String {
        guard let t else { return "–" }
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    static let style = """
        :root { --fg:#1d2330; --muted:#5b6473; --line:#d8dce3; --bg:#ffffff; --accent:#2f6fb0; --ok:#2e8b57; --bad:#c0392b; --warn:#c98a00; }
        * { box-sizing: border-box; }
        body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--fg);
               background: var(--bg); margin: 0; }
        header.bar { background: #1d2330; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: baseline; }
        header.bar a { color: #fff; text-decoration: none; font-weight: 600; }
        header.bar span { color: #b8c0cc; font-size: 13px; }
        main.dash { padding: 16px 24px 48px; max-width: 1280px; }
        h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 24px 0 8px; }
        table.grid { border-collapse: collapse; font-size: 13px; margin: 4px 0 12px; }
        table.grid th, table.grid td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }
        table.grid th { color: var(--muted); font-weight: 600; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        .state { font-weight: 600; } .state-done { color: var(--ok); } .state-failed { color: var(--bad); }
        .state-running { color: var(--accent); } .state-cancelled { color: var(--warn); }
        .progress { width: 220px; height: 12px; background: #eef0f4; border-radius: 6px; overflow: hidden; display: flex; }
        .progress .done { background: var(--ok); } .progress .leased { background: var(--accent); } .progress .failed { background: var(--bad); }
        dl.facts { display: grid; grid-template-columns: 6.5em auto; gap: 4px 16px; font-size: 14px; margin: 8px 0; }
        dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
        .error { color: var(--bad); white-space: pre-wrap; }
        .muted { color: var(--muted); font-size: 13px; }
        form.login { margin-top: 24px; display: flex; gap: 8px; } form.login input { font-size: 14px; padding: 6px; width: 360px; }
        """

    static func page(title: String, body: String, script: String = "", extraStyle: String = "") -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        \(style)
        \(extraStyle)
        </style>
        </head>
        <body>
        <header class="bar"><a href="/">lassoboot</a><span>coordinator dashboard</span></header>
        <main class="dash">
        \(body)
        </main>
        \(script.isEmpty ? "" : "<script>\n\(script)\n</script>")
        </body>
        </html>

        """
    }

    /// The page shown instead of a view when the request carries no valid client token.
    static func login(next: String, failed: Bool) -> String {
        page(
            title: "lassoboot: sign in",
            body: """
                <h1>Sign in</h1>
                <p class="muted">The dashboard needs the coordinator's client token (the worker token is not accepted).</p>
                \(failed ? "<p class=\"error\">That token was not accepted.</p>" : "")
                <form class="login" method="post" action="/login">
                <input type="hidden" name="next" value="\(escape(next))">
                <input type="password" name="token" autocomplete="current-password" placeholder="client token" aria-label="client token">
                <button type="submit">Sign in</button>
                </form>
                """)
    }

    static func progressBar(_ t: Wire.TaskCounts) -> String {
        let total = max(t.total, 1)
        func seg(_ cls: String, _ n: Int) -> String {
            n > 0 ? "<div class=\"\(cls)\" style=\"width:\(String(format: "%.2f", 100 * Double(n) / Double(total)))%\"></div>" : ""
        }
        return "<div class=\"progress\" title=\"\(t.done) done, \(t.leased) leased, \(t.queued) queued, \(t.failed) failed\">"
            + seg("done", t.done) + seg("leased", t.leased) + seg("failed", t.failed) + "</div>"
    }

    static func workersTable(_ workers: [Wire.WorkerInfo], now: Double) -> String {
        var rows = ""
        for w in workers {
            rows +=
                "<tr data-worker=\"\(escape(w.id))\"><td>\(escape(w.id))</td><td>\(escape(w.host))</td>"
                + "<td class=\"num\">\(w.threads)</td><td class=\"num\">\(w.tasksDone)</td>"
                + "<td class=\"num\" data-last-seen=\"\(w.lastSeen)\">\(String(format: "%.0f", max(0, now - w.lastSeen))) s ago</td></tr>\n"
        }
        if workers.isEmpty { rows = "<tr><td colspan=\"5\" class=\"muted\">no worker has connected yet</td></tr>" }
        return """
            <table class="grid" id="workers">
            <thead><tr><th>worker</th><th>host</th><th class="num">threads</th><th class="num">tasks done</th><th class="num">last heartbeat</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table>
            """
    }

    static func runsTable(_ runs: [Wire.RunStatus]) -> String {
        var rows = ""
        for r in runs.sorted(by: { ($0.created, $0.id) > ($1.created, $1.id) }) {
            rows +=
                "<tr data-run=\"\(escape(r.id))\"><td><a href=\"/runs/\(escape(r.id))\">\(escape(r.id))</a></td>"
                + "<td>\(escape(r.name))</td><td class=\"state state-\(escape(r.state.rawValue))\">\(escape(r.state.rawValue))</td>"
                + "<td>\(progressBar(r.tasks))</td><td class=\"num\">\(r.tasks.done)/\(r.tasks.total)</td>"
                + "<td class=\"num\">\(r.resamplesDone)/\(r.resamples)</td><td>\(stamp(r.created))</td></tr>\n"
        }
        if runs.isEmpty {
            rows = "<tr><td colspan=\"7\" class=\"muted\">no runs yet: <code>lassoboot submit JOB.json --coordinator URL</code></td></tr>"
        }
        return """
            <table class="grid" id="runs">
            <thead><tr><th>run</th><th>name</th><th>state</th><th>progress</th><th class="num">tasks</th><th class="num">resamples</th><th>created</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table>
            """
    }

    /// `/`: every run and every worker.
    static func overview(_ list: Wire.RunList, now: Double) -> String {
        page(
            title: "lassoboot: runs",
            body: """
                <h1>Runs</h1>
                <div id="runs-box">\(runsTable(list.runs))</div>
                <h2>Workers</h2>
                <div id="workers-box">\(workersTable(list.workers, now: now))</div>
                <p class="muted" id="refreshed">updated on load</p>
                """, script: overviewScript)
    }

    /// A run's facts (state, phase, tasks, progress, resamples, times, dataset): on its page
    /// and, refreshed, at `/fragments/runs/{id}/facts` (the one renderer of these numbers).
    static func runFacts(_ status: Wire.RunStatus) -> String {
        let t = status.tasks
        return """
            <dl class="facts" id="facts">
            <dt>state</dt><dd class="state state-\(escape(status.state.rawValue))" id="state">\(escape(status.state.rawValue))</dd>
            <dt>phase</dt><dd id="phase">\(status.phase == 1 ? "1 (cross-validation)" : "2 (bootstrap)")</dd>
            <dt>tasks</dt><dd><span id="tasks-done">\(t.done)</span> done, <span id="tasks-leased">\(t.leased)</span> leased,
              <span id="tasks-queued">\(t.queued)</span> queued, <span id="tasks-failed">\(t.failed)</span> failed
              (<span id="tasks-total">\(t.total)</span> so far)</dd>
            <dt>progress</dt><dd id="bar">\(progressBar(t))</dd>
            <dt>resamples</dt><dd><span id="resamples-done">\(status.resamplesDone)</span> of <span id="resamples">\(status.resamples)</span>
              (<span id="resamples-pct">\(percent(status.resamplesDone, status.resamples))</span>)</dd>
            <dt>created</dt><dd>\(stamp(status.created))</dd>
            <dt>finished</dt><dd id="finished">\(stamp(status.finished))</dd>
            <dt>dataset</dt><dd><code>\(escape(status.dataset))</code></dd>
            </dl>
            \(status.error.map { "<p class=\"error\" id=\"run-error\">\(escape($0))</p>" } ?? "")
            """
    }

    /// `/runs/{id}`: progress while running, the report with plots when done.
    static func run(_ status: Wire.RunStatus, workers: [Wire.WorkerInfo], report: Report?, now: Double) -> String {
        // Throughput and ETA are measured by the page itself, from the counts it sees move.
        let rates = """
            <dl class="facts" id="rates">
            <dt>throughput</dt><dd id="throughput">–</dd>
            <dt>ETA</dt><dd id="eta">\(status.state == .running ? "–" : "finished")</dd>
            </dl>
            """
        let reportBox: String
        if let report {
            reportBox = Render.htmlFragment(report)
        } else {
            reportBox = "<p class=\"muted\">The report appears here when the run is done.</p>"
        }
        return page(
            title: "lassoboot: \(status.name) (\(status.id))",
            body: """
                <h1>\(escape(status.name)) <span class="muted">\(escape(status.id))</span></h1>
                <div id="facts-box">\(runFacts(status))</div>
                \(rates)
                <h2>Workers</h2>
                <div id="workers-box">\(workersTable(workers, now: now))</div>
                <div id="report" data-loaded="\(report == nil ? "false" : "true")">\(reportBox)</div>
                """, script: runScript(id: status.id), extraStyle: Render.htmlStyle)
    }

    /// The pages' scripts fetch the tables and facts as HTML fragments rendered by the functions
    /// above (one renderer); they only measure throughput and ETA themselves.
    static let commonScript = """
        async function getText(url) {
          const r = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
          if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
          return r.text();
        }
        async function getJSON(url) { return JSON.parse(await getText(url)); }
        function stamp() { document.getElementById('refreshed') && (document.getElementById('refreshed').textContent = 'updated ' + new Date().toLocaleTimeString()); }
        """

    static let overviewScript =
        commonScript + """

            async function refresh() {
              try {
                const [runs, workers] = await Promise.all([getText('/fragments/runs'), getText('/fragments/workers')]);
                document.getElementById('runs-box').innerHTML = runs;
                document.getElementById('workers-box').innerHTML = workers;
                stamp();
              } catch (e) {
                document.getElementById('refreshed').textContent = 'could not refresh: ' + e.message;
              }
            }
            setInterval(refresh, 2000);
            """

    static func runScript(id: String) -> String {
        // The id is a run id the service made (hex and dashes); JSON-encode it anyway.
        let idLiteral = String(decoding: (try? JSONEncoder().encode([id])) ?? Data("[\"\"]".utf8), as: UTF8.self)
        return commonScript + """

            const RUN = \(idLiteral)[0];
            const samples = [];
            function fmtDuration(s) {
              if (!isFinite(s) || s < 0) return '–';
              if (s < 90) return s.toFixed(0) + ' s';
              if (s < 5400) return (s / 60).toFixed(1) + ' min';
              return (s / 3600).toFixed(1) + ' h';
            }
            function set(id, text) { const e = document.getElementById(id); if (e) e.textContent = text; }
            async function loadReport() {
              const box = document.getElementById('report');
              if (box.dataset.loaded === 'true') return;
              const r = await fetch('/v1/runs/' + encodeURIComponent(RUN) + '/report?format=fragment', { credentials: 'same-origin', cache: 'no-store' });
              if (r.ok) { box.innerHTML = await r.text(); box.dataset.loaded = 'true'; }
            }
            let timer = null;
            async function refresh() {
              try {
                const base = '/fragments/runs/' + encodeURIComponent(RUN);
                const [s, facts, workers] = await Promise.all([
                  getJSON('/v1/runs/' + encodeURIComponent(RUN)), getText(base + '/facts'), getText('/fragments/workers')]);
                document.getElementById('facts-box').innerHTML = facts;
                document.getElementById('workers-box').innerHTML = workers;
                const now = Date.now() / 1000, t = s.tasks;
                samples.push([now, s.resamplesDone, t.done]);
                while (samples.length > 2 && now - samples[0][0] > 30) samples.shift();
                if (s.state === 'running' && samples.length >= 2) {
                  const [t0, r0, d0] = samples[0], dt = now - t0;
                  const rate = dt > 0 ? (s.resamplesDone - r0) / dt : 0, taskRate = dt > 0 ? (t.done - d0) / dt : 0;
                  set('throughput', rate.toFixed(1) + ' resamples/s, ' + taskRate.toFixed(1) + ' tasks/s');
                  set('eta', rate > 0 ? fmtDuration((s.resamples - s.resamplesDone) / rate) : '–');
                } else if (s.state !== 'running') {
                  set('eta', 'finished'); set('throughput', '–');
                }
                if (s.state === 'done') { await loadReport(); clearInterval(timer); }
                if (s.state === 'failed' || s.state === 'cancelled') clearInterval(timer);
              } catch (e) {
                set('eta', 'could not refresh: ' + e.message);
              }
            }
            if (document.getElementById('report').dataset.loaded !== 'true') { timer = setInterval(refresh, 1500); refresh(); }
            """
    }
}
