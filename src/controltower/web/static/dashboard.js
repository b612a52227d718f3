// Renders every chart on the page: each <figure data-chart="ID"> has its figure
// (plotly data and layout) in <script type="application/json" id="ID">.
(function () {
  "use strict";
  document.querySelectorAll("[data-chart]").forEach(function (holder) {
    var source = document.getElementById(holder.dataset.chart);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    var target = holder.querySelector(".chart");
    var drawn = figure.data.some(function (trace) {
      return (trace.x || []).length > 0 || (trace.y || []).length > 0;
    });
    if (!drawn) {  // empty axes say nothing: say why there is no chart
      target.classList.add("empty");
      target.textContent = "Nothing to draw: no runs in this period match the filters.";
      return;
    }
    var own = figure.layout || {};
    // The legend sits above the plot, where it cannot cover the axis' tick labels; a
    // figure's own margin, legend and axes add to these defaults rather than replace them.
    var layout = Object.assign({
      height: 260,
      font: { family: "system-ui, sans-serif", size: 12 }
    }, own);
    layout.margin = Object.assign({ l: 50, r: 20, t: 30, b: 40 }, own.margin);
    layout.legend = Object.assign(
      { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" }, own.legend);
    layout.xaxis = Object.assign({ automargin: true }, own.xaxis);
    // A figure may ask for a tick per so many pixels of the chart's width (the run timeline's
    // times, whose first label also carries the date): at phone width plotly's own count
    // turned them on end and cut the date off below the chart.
    var perTick = own.meta && own.meta.pxPerTick;
    if (perTick && !layout.xaxis.nticks) {
      layout.xaxis.nticks = Math.max(2, Math.floor(target.clientWidth / perTick));
    }
    layout.yaxis = Object.assign({ automargin: true }, own.yaxis);
    Plotly.newPlot(target, figure.data, layout, { displaylogo: false, responsive: true });
  });
})();

// Writes through the JSON API, then reload: on the alerts page acknowledge, silence and
// expire; on the overview, a verdict on an anomaly (real or not); on the models page,
// promote a version or roll back.
(function () {
  "use strict";
  var status = document.getElementById("action-status");
  if (!status) { return; }
  var actor = document.getElementById("actor");
  var reason = document.getElementById("silence-reason");
  // Where the server asks for an API token, it is kept for this tab only.
  var token = document.getElementById("api-token");
  if (token) {
    token.value = window.sessionStorage.getItem("controltower-token") || "";
    token.addEventListener("change", function () {
      window.sessionStorage.setItem("controltower-token", token.value.trim());
    });
  }
  var saved = window.localStorage.getItem("controltower-actor");
  if (actor && saved) { actor.value = saved; }
  if (actor) {
    actor.addEventListener("change", function () {
      window.localStorage.setItem("controltower-actor", actor.value.trim());
    });
  }

  function who() { return actor ? actor.value.trim() : ""; }

  function call(path, body, done) {
    status.textContent = "Working…";
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (token && token.value.trim()) { headers.Authorization = "Bearer " + token.value.trim(); }
    fetch(path, {
      method: "POST",
      headers: headers,
      body: body === null ? null : JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) {
          var detail = answer.detail;
          if (Array.isArray(detail)) { detail = detail.map(function (d) { return d.msg; }).join("; "); }
          throw new Error(detail || response.statusText);
        }
        status.textContent = done;
        window.location.reload();
      });
    }).catch(function (error) {
      status.setAttribute("role", "alert");
      status.textContent = "Not done: " + error.message;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) { return; }
    var data = button.dataset;
    if (data.ack) {
      call("/api/v1/alerts/" + data.ack + "/ack", { by: who() }, "Acknowledged.");
    } else if (data.unack) {
      call("/api/v1/alerts/" + data.unack + "/unack", null, "Acknowledgement taken back.");
    } else if (data.silenceKey) {
      call("/api/v1/silences", {
        key: data.silenceKey,
        duration: data.duration,
        reason: (reason && reason.value.trim()) || "silenced from the dashboard",
        created_by: who()
      }, "Silenced for " + data.duration + ".");
    } else if (data.expire) {
      call("/api/v1/silences/" + data.expire + "/expire", null, "Silence ended.");
    } else if (data.promote) {
      call("/api/v1/models/" + data.promote + "/promote", null, "Version " + data.promote + " is live.");
    } else if (data.rollback) {
      call("/api/v1/models/rollback", null, "Rolled back.");
    } else if (data.anomaly && data.verdict !== undefined) {
      var verdict = data.verdict || null;
      call("/api/v1/anomalies/" + data.anomaly + "/verdict", { verdict: verdict, by: who() },
        verdict === null ? "Verdict taken back." : "Marked " + verdict + ".");
    }
  });
})();
