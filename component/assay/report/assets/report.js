/* assay report: the slice tables, the bar charts, the plots of a slice and the metrics over
   time, drawn from the JSON document embedded beside this script (see assay/report/data.py).
   Hand-written, no dependencies, nothing fetched. Everything is looked up inside one root
   element (.assay-report), so several reports can share a page or a notebook. */
var assayReport = window.assayReport || (function () {
  "use strict";

  // ---------------------------------------------------------------------------------------
  // Small helpers

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function num(v) {
    if (v === null || v === undefined) return NaN;
    return typeof v === "string" ? parseFloat(v) : v;
  }

  // 4 significant digits; integers with separators. report.fmt in Python (html.py) gives the
  // same text; tests/test_report_browser.py compares the two.
  function fmt(v, signed) {
    v = num(v);
    if (isNaN(v)) return "NaN";
    var sign = signed && v > 0 ? "+" : "";
    if (!isFinite(v)) return sign + (v > 0 ? "\u221e" : "-\u221e");
    var a = Math.abs(v), s;
    if (Number.isInteger(v) && a >= 1 && a < 1e15) s = v.toLocaleString("en-US");
    else if (a !== 0 && (a < 1e-4 || a >= 1e6)) s = v.toExponential(3).replace(/\.?0+e/, "e");
    else s = String(Number(v.toPrecision(4)));
    return sign + s;
  }

  function el(root, sel) { return root.querySelector(sel); }

  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var out = [], t = Math.ceil(lo / step - 1e-9) * step;
    for (; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return out;
  }

  function extent(values, pad) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) {
      if (isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    });
    if (lo === Infinity) return [0, 1];
    if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 0.5; hi += Math.abs(hi) * 0.1 || 0.5; }
    var p = (hi - lo) * (pad || 0);
    return [lo - p, hi + p];
  }

  // ---------------------------------------------------------------------------------------
  // Charts: SVG built as strings

  var COLORS = {candidate: "#2563eb", baseline: "#e07b12"};

  // o: {title, w, h, x: [lo, hi], y: [lo, hi], xl, yl, diag, zero, cats (x tick labels),
  //     series: [{name, color, dash, xs, ys, tips, dots, hollow: [bool per point]}]}
  function lineChart(o) {
    var w = o.w || 300, h = o.h || 250, ml = 46, mr = 10, mt = 8, mb = o.cats ? 46 : 36;
    var x0 = o.x[0], x1 = o.x[1], y0 = o.y[0], y1 = o.y[1];
    function px(x) { return ml + (x - x0) / (x1 - x0) * (w - ml - mr); }
    function py(y) { return h - mb - (y - y0) / (y1 - y0) * (h - mt - mb); }
    var s = ['<svg width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + ' ' + h +
             '" role="img" aria-label="' + esc(o.title) + '">'];
    niceTicks(y0, y1, 5).forEach(function (t) {
      s.push('<line class="ar-grid" x1="' + ml + '" x2="' + (w - mr) + '" y1="' + py(t) +
             '" y2="' + py(t) + '"/><text x="' + (ml - 4) + '" y="' + (py(t) + 4) +
             '" text-anchor="end">' + fmt(t) + '</text>');
    });
    if (o.cats) {
      o.cats.forEach(function (c, i) {
        var label = c.length > 16 ? c.slice(0, 15) + "\u2026" : c;
        s.push('<text x="' + px(i) + '" y="' + (h - mb + 14) + '" text-anchor="middle"><title>' +
               esc(c) + '</title>' + esc(label) + '</text>');
      });
    } else {
      niceTicks(x0, x1, 5).forEach(function (t) {
        s.push('<text x="' + px(t) + '" y="' + (h - mb + 14) + '" text-anchor="middle">' +
               fmt(t) + '</text>');
      });
    }
    s.push('<line class="ar-axis" x1="' + ml + '" x2="' + (w - mr) + '" y1="' + (h - mb) +
           '" y2="' + (h - mb) + '"/><line class="ar-axis" x1="' + ml + '" x2="' + ml +
           '" y1="' + mt + '" y2="' + (h - mb) + '"/>');
    if (o.diag) {
      var a = Math.max(x0, y0), b = Math.min(x1, y1);
      s.push('<line class="ar-ref" x1="' + px(a) + '" y1="' + py(a) + '" x2="' + px(b) +
             '" y2="' + py(b) + '"/>');
    }
    if (o.zero && y0 < 0 && y1 > 0) {
      s.push('<line class="ar-ref" x1="' + ml + '" x2="' + (w - mr) + '" y1="' + py(0) +
             '" y2="' + py(0) + '"/>');
    }
    if (o.xl) s.push('<text x="' + ((ml + w - mr) / 2) + '" y="' + (h - 4) +
                     '" text-anchor="middle">' + esc(o.xl) + '</text>');
    if (o.yl) s.push('<text transform="translate(11,' + ((mt + h - mb) / 2) +
                     ') rotate(-90)" text-anchor="middle">' + esc(o.yl) + '</text>');
    o.series.forEach(function (sr) {
      var d = "", pen = false;
      for (var i = 0; i < sr.xs.length; i++) {
        var x = num(sr.xs[i]), y = num(sr.ys[i]);
        if (!isFinite(x) || !isFinite(y)) { pen = false; continue; }
        d += (pen ? "L" : "M") + px(x).toFixed(1) + "," + py(y).toFixed(1);
        pen = true;
      }
      s.push('<path d="' + d + '" fill="none" stroke="' + sr.color + '" stroke-width="2"' +
             (sr.dash ? ' stroke-dasharray="6 4"' : '') + ' data-series="' + esc(sr.name) + '"/>');
      for (var j = 0; j < sr.xs.length; j++) {
        var xv = num(sr.xs[j]), yv = num(sr.ys[j]);
        if (!isFinite(xv) || !isFinite(yv)) continue;
        var tip = sr.tips ? sr.tips[j] : sr.name + ": " + fmt(xv) + ", " + fmt(yv);
        if (sr.dots) {
          var hollow = sr.hollow && sr.hollow[j];
          s.push('<circle cx="' + px(xv).toFixed(1) + '" cy="' + py(yv).toFixed(1) + '" r="' +
                 (sr.radii ? sr.radii[j].toFixed(1) : hollow ? 4.5 : 3.5) + '" fill="' +
                 (hollow ? "#fff" : sr.color) +
                 '" stroke="' + (hollow ? "#c62828" : sr.color) + '" stroke-width="2"><title>' +
                 esc(tip) + '</title></circle>');
        } else if (j % Math.ceil(sr.xs.length / 40) === 0 || j === sr.xs.length - 1) {
          s.push('<circle class="ar-hit" cx="' + px(xv).toFixed(1) + '" cy="' +
                 py(yv).toFixed(1) + '" r="4"><title>' + esc(tip) + '</title></circle>');
        }
      }
    });
    s.push('</svg>');
    return '<div class="ar-chart" data-chart="' + esc(o.id || o.title) + '"><h4>' +
           esc(o.title) + '</h4>' + s.join("") + '</div>';
  }

  function legend(hasBaseline, extra) {
    var s = '<p class="ar-legend"><span><i class="ar-sw" style="border-color:' +
            COLORS.candidate + '"></i>candidate</span>';
    if (hasBaseline) s += '<span><i class="ar-sw" style="border-top-style:dashed;border-color:' +
                          COLORS.baseline + '"></i>baseline</span>';
    return s + (extra || "") + '</p>';
  }

  // ---------------------------------------------------------------------------------------
  // One slicing spec: bar chart, table, plots of the selected slice

  var PAGE_SIZES = [25, 50, 100, 500];

  function SpecView(app, index, spec, section) {
    this.app = app;
    this.R = app.R;
    this.spec = spec;
    this.section = section;
    var R = this.R;
    this.shown = R.default_metrics.map(function (m) { return R.metrics.indexOf(m); });
    this.sort = null;          // {col: "c:3", dir: 1 | -1}
    this.filters = {};         // col -> text
    this.onlyFail = false;
    this.hideWithheld = false;
    this.page = 0;
    this.pageSize = PAGE_SIZES[0];
    this.rows = spec.rows.slice();
    this.view = this.rows.slice();
    this.selected = null;
    var maxN = 0;
    this.rows.forEach(function (j) { maxN = Math.max(maxN, num(R.slices[j].n) || 0); });
    this.maxN = maxN;
    this.small = R.small_slice_size;
    this.barMetric = this.pickBarMetric();
    this.barModel = "c";
    this.build();
  }

  // The bar chart first shows a metric that a threshold checks on this spec, if any.
  SpecView.prototype.pickBarMetric = function () {
    var R = this.R, feats = this.spec.features.slice().sort().join("\u0000");
    for (var i = 0; i < R.checked.length; i++) {
      var m = R.metrics.indexOf(R.checked[i][0]);
      if (m >= 0 && R.checked[i][1].join("\u0000") === feats) return m;
    }
    return this.shown.length ? this.shown[0] : 0;
  };

  SpecView.prototype.value = function (j, col) {
    var s = this.R.slices[j];
    if (col === "n") return num(s.n);
    var arr = s[col.charAt(0)];
    return arr ? num(arr[+col.slice(2)]) : NaN;
  };

  SpecView.prototype.build = function () {
    var self = this, R = this.R, many = this.rows.length > 1;
    var tableSlot = el(this.section, ".ar-table");
    var tools = many ?
      '<div class="ar-tools"><input type="search" class="ar-q" placeholder="Filter slices\u2026" ' +
      'aria-label="Filter slices by name"><label><input type="checkbox" class="ar-onlyfail"> ' +
      'only failing</label><label><input type="checkbox" class="ar-hidewh"> hide withheld</label>' +
      this.columnPicker() + '<span class="ar-pager"></span></div>' :
      '<div class="ar-tools">' + this.columnPicker() + '</div>';
    tableSlot.innerHTML = tools + '<div class="ar-tablewrap"><table class="ar-t ar-slices">' +
      '<thead></thead><tbody></tbody></table></div>';
    this.thead = el(tableSlot, "thead");
    this.tbody = el(tableSlot, "tbody");
    this.pager = el(tableSlot, ".ar-pager");
    this.renderHead();
    this.refresh();

    this.thead.addEventListener("click", function (ev) {
      var th = ev.target.closest("th[data-col]");
      if (th && self.thead.contains(th)) self.sortBy(th.getAttribute("data-col"));
    });
    this.thead.addEventListener("keydown", function (ev) {
      var th = ev.target.closest("th[data-col]");
      if (th && (ev.key === "Enter" || ev.key === " ")) {
        ev.preventDefault();
        self.sortBy(th.getAttribute("data-col"));
      }
    });
    this.thead.addEventListener("input", function (ev) {
      var col = ev.target.getAttribute("data-filter");
      if (col) self.setFilter(col, ev.target.value);
    });
    this.tbody.addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr[data-slice]");
      if (tr) self.select(+tr.getAttribute("data-slice"));
    });
    this.tbody.addEventListener("keydown", function (ev) {
      var tr = ev.target.closest("tr[data-slice]");
      if (tr && (ev.key === "Enter" || ev.key === " ")) {
        ev.preventDefault();
        self.select(+tr.getAttribute("data-slice"));
      }
    });
    var q = el(tableSlot, ".ar-q");
    if (q) q.addEventListener("input", function () { self.setFilter("slice", q.value); });
    var of = el(tableSlot, ".ar-onlyfail");
    if (of) of.addEventListener("change", function () {
      self.onlyFail = of.checked;
      self.refresh(true);
    });
    var hw = el(tableSlot, ".ar-hidewh");
    if (hw) hw.addEventListener("change", function () {
      self.hideWithheld = hw.checked;
      self.refresh(true);
    });
    el(tableSlot, ".ar-colbox").addEventListener("change", function (ev) {
      var m = +ev.target.value;
      var at = self.shown.indexOf(m);
      if (ev.target.checked && at < 0) self.shown.push(m);
      if (!ev.target.checked && at >= 0) self.shown.splice(at, 1);
      self.shown.sort(function (a, b) { return self.rank(a) - self.rank(b); });
      el(tableSlot, ".ar-ncols").textContent = self.shown.length;
      self.renderHead();
      self.refresh();
    });
    if (this.pager) this.pager.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-page]");
      if (!b) return;
      self.page += +b.getAttribute("data-page");
      self.refresh();
    });
    if (this.pager) this.pager.addEventListener("change", function (ev) {
      if (ev.target.classList.contains("ar-psize")) {
        self.pageSize = +ev.target.value;
        self.page = 0;
        self.refresh();
      }
    });

    if (many) this.buildBars();
    var first = null;
    for (var i = 0; i < this.view.length && first === null; i++) {
      if (!R.slices[this.view[i]].h) first = this.view[i];
    }
    if (first === null && this.view.length) first = this.view[0];
    if (first !== null) this.select(first, true);
  };

  SpecView.prototype.rank = function (m) {
    var at = this.R.default_metrics.indexOf(this.R.metrics[m]);
    return at >= 0 ? at - 1000 : m;
  };

  SpecView.prototype.columnPicker = function () {
    var R = this.R, self = this;
    var boxes = R.metrics.map(function (m, i) {
      if (m === "example_count") return "";
      return '<label><input type="checkbox" value="' + i + '"' +
        (self.shown.indexOf(i) >= 0 ? " checked" : "") + '> ' + esc(m) + '</label>';
    }).join("");
    return '<details class="ar-cols"><summary>Metrics (<span class="ar-ncols">' +
      this.shown.length + '</span> of ' + R.metrics.length + ')</summary><div class="ar-colbox">' +
      boxes + '</div></details>';
  };

  SpecView.prototype.renderHead = function () {
    var R = this.R, hasB = R.has_baseline, self = this;
    var dirMark = function (m) {
      var d = R.directions[R.metrics[m]];
      return d ? ' <span class="ar-dir" title="' + d + ' is better">' +
        (d === "higher" ? "\u2191" : "\u2193") + '</span>' : "";
    };
    var h1 = '<th rowspan="' + (hasB ? 2 : 1) + '" data-col="slice">Slice</th><th rowspan="' +
      (hasB ? 2 : 1) + '" data-col="n">Examples</th>';
    var h2 = "", filters = '<th><input data-filter="slice" placeholder="text" ' +
      'aria-label="filter Slice"></th><th><input data-filter="n" placeholder="&gt;1000" ' +
      'aria-label="filter Examples"></th>';
    this.shown.forEach(function (m) {
      var name = esc(R.metrics[m]);
      if (hasB) {
        h1 += '<th colspan="3">' + name + dirMark(m) + '</th>';
        h2 += '<th data-col="c:' + m + '" title="' + name + ', candidate">cand</th>' +
              '<th data-col="b:' + m + '" title="' + name + ', baseline">base</th>' +
              '<th data-col="d:' + m + '" title="' + name + ', candidate - baseline">\u0394</th>';
        ["c", "b", "d"].forEach(function (k) {
          filters += '<th><input data-filter="' + k + ':' + m + '" placeholder="' +
            (k === "d" ? "&lt;0" : "&gt;0.5") + '" aria-label="filter ' + name + ' ' + k +
            '"></th>';
        });
      } else {
        h1 += '<th data-col="c:' + m + '">' + name + dirMark(m) + '</th>';
        filters += '<th><input data-filter="c:' + m + '" placeholder="&gt;0.5" ' +
          'aria-label="filter ' +
          name + '"></th>';
      }
    });
    this.thead.innerHTML = '<tr>' + h1 + '</tr>' + (hasB ? '<tr>' + h2 + '</tr>' : '') +
      (this.rows.length > 1 ? '<tr class="ar-filters">' + filters + '</tr>' : '');
    Array.prototype.forEach.call(this.thead.querySelectorAll("th[data-col]"), function (th) {
      th.tabIndex = 0;
    });
    Object.keys(this.filters).forEach(function (col) {
      var input = self.thead.querySelector('input[data-filter="' + col + '"]');
      if (input) input.value = self.filters[col];
    });
    this.markSorted();
  };

  SpecView.prototype.markSorted = function () {
    var sort = this.sort;
    Array.prototype.forEach.call(this.thead.querySelectorAll("th[data-col]"), function (th) {
      var on = sort && th.getAttribute("data-col") === sort.col;
      th.classList.toggle("ar-sorted", !!on);
      th.setAttribute("aria-sort", on ? (sort.dir > 0 ? "ascending" : "descending") : "none");
      var mark = th.querySelector(".ar-arrow");
      if (mark) mark.remove();
      if (on) th.insertAdjacentHTML("beforeend", '<span class="ar-arrow"> ' +
                                    (sort.dir > 0 ? "\u25b2" : "\u25bc") + '</span>');
    });
  };

  // A filter: "<0.7", ">= 100", "=0", "0.6..0.8", "nan", or text found in the shown value.
  function parseFilter(text) {
    text = text.trim();
    if (!text) return null;
    var n = "(-?(?:\\d+\\.?\\d*|\\.\\d+)(?:e[-+]?\\d+)?)";
    var m = new RegExp("^(<=|>=|<|>|=|!=)\\s*" + n + "$", "i").exec(text);
    if (m) {
      var v = parseFloat(m[2]), op = m[1];
      return function (x) {
        if (isNaN(x)) return false;
        return op === "<" ? x < v : op === ">" ? x > v : op === "<=" ? x <= v :
          op === ">=" ? x >= v : op === "=" ? x === v : x !== v;
      };
    }
    m = new RegExp("^" + n + "\\s*\\.\\.\\s*" + n + "$", "i").exec(text);
    if (m) {
      var lo = parseFloat(m[1]), hi = parseFloat(m[2]);
      return function (x) { return x >= lo && x <= hi; };
    }
    if (/^nan$/i.test(text)) return function (x) { return isNaN(x); };
    var low = text.toLowerCase();
    return function (x) { return fmt(x).toLowerCase().indexOf(low) >= 0; };
  }

  SpecView.prototype.setFilter = function (col, text) {
    if (text) this.filters[col] = text; else delete this.filters[col];
    var q = el(this.section, ".ar-q");
    var input = this.thead.querySelector('input[data-filter="' + col + '"]');
    if (col === "slice") {
      if (q && q.value !== text) q.value = text;
      if (input && input.value !== text) input.value = text;
    }
    this.refresh(true);
  };

  // The first click on a metric puts the worst slices first (the lowest values, or the highest
  // for a lower-is-better metric; the largest first when the metric has no better direction);
  // the next click reverses the order.
  SpecView.prototype.sortBy = function (col, dir) {
    if (dir === undefined) {
      if (this.sort && this.sort.col === col) dir = -this.sort.dir;
      else if (col === "slice") dir = 1;
      else if (col === "n") dir = -1;
      else dir = this.R.directions[this.R.metrics[+col.slice(2)]] === "higher" ? 1 : -1;
    }
    this.sort = {col: col, dir: dir};
    this.markSorted();
    this.refresh(true);
  };

  // Recomputes the visible rows: filter, then sort (NaN and withheld last either way).
  SpecView.prototype.refresh = function (toFirstPage) {
    var self = this, R = this.R, tests = [];
    Object.keys(this.filters).forEach(function (col) {
      if (col === "slice") {
        var low = self.filters[col].toLowerCase();
        tests.push(function (j) { return R.slices[j].k.toLowerCase().indexOf(low) >= 0; });
      } else {
        var f = parseFilter(self.filters[col]);
        if (f) tests.push(function (j) { return f(self.value(j, col)); });
      }
    });
    if (this.onlyFail) tests.push(function (j) { return Object.keys(R.slices[j].f).length > 0; });
    if (this.hideWithheld) tests.push(function (j) { return !R.slices[j].h; });
    var view = tests.length ? this.rows.filter(function (j) {
      for (var t = 0; t < tests.length; t++) if (!tests[t](j)) return false;
      return true;
    }) : this.rows.slice();
    if (this.sort) {
      var col = this.sort.col, dir = this.sort.dir;
      if (col === "slice") {
        if (dir < 0) view.reverse();
      } else {
        var keys = new Float64Array(R.slices.length);
        view.forEach(function (j) { keys[j] = self.value(j, col); });
        view.sort(function (a, b) {
          var x = keys[a], y = keys[b], nx = isNaN(x), ny = isNaN(y);
          if (nx || ny) return nx === ny ? a - b : (nx ? 1 : -1);
          return x === y ? a - b : (x < y ? -dir : dir);
        });
      }
    }
    this.view = view;
    if (toFirstPage) this.page = 0;
    var pages = Math.max(1, Math.ceil(view.length / this.pageSize));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    this.renderBody();
  };

  // With `confidence:`, a slice's interval of a metric ("ci") or of its change ("di").
  function ciOf(list, m) { return list && list[m] ? list[m] : null; }
  function ciText(list, m, signed) {
    var iv = ciOf(list, m);
    return iv ? '<span class="ar-ci" title="confidence interval">[' + fmt(iv[0], signed) +
      ", " + fmt(iv[1], signed) + ']</span>' : "";
  }

  SpecView.prototype.renderBody = function () {
    var R = this.R, self = this, hasB = R.has_baseline;
    var start = this.page * this.pageSize;
    var rows = this.view.slice(start, start + this.pageSize);
    var html = [];
    rows.forEach(function (j) {
      var s = R.slices[j], fails = Object.keys(s.f), n = num(s.n);
      var small = !isNaN(n) && n < self.small;
      var cls = (fails.length ? "ar-fail " : "") + (s.h ? "ar-withheld " : "") +
        (small ? "ar-small " : "") + (j === self.selected ? "ar-sel" : "");
      var tags = "";
      if (fails.length) tags += '<span class="ar-tag ar-tfail" title="' +
        esc(fails.map(function (m) { return s.f[m]; }).join("\n")) + '">FAIL</span>';
      if (s.h) tags += '<span class="ar-tag ar-twith" title="' + esc(s.h) + '">withheld</span>';
      else if (small) tags += '<span class="ar-tag ar-tsmall" title="fewer than ' + self.small +
        ' examples: the metrics are noisy">small</span>';
      var width = self.maxN > 0 && !isNaN(n) ? Math.max(0.5, 100 * n / self.maxN) : 0;
      var cells = '<td class="ar-sl" title="' + esc(s.k) + '">' + esc(s.k) + tags + '</td>' +
        '<td class="ar-num ar-cnt">' + fmt(n) + '<span class="ar-cbar" style="width:' +
        width.toFixed(1) + '%"></span></td>';
      if (s.h) {
        cells += '<td class="ar-why" colspan="' + (self.shown.length * (hasB ? 3 : 1)) + '">' +
          esc(s.h) + '</td>';
      } else {
        self.shown.forEach(function (m) {
          var bad = s.f[m] !== undefined;
          cells += '<td class="ar-num' + (bad ? ' ar-bad" title="' + esc(s.f[m]) : '') + '">' +
            fmt(s.c[m]) + ciText(s.ci, m, false) + '</td>';
          if (hasB) {
            var d = s.d ? num(s.d[m]) : NaN, dir = R.directions[R.metrics[m]], tone = "";
            if (dir && d !== 0 && !isNaN(d)) {
              tone = (d > 0) === (dir === "higher") ? " ar-better" : " ar-worse";
            }
            cells += '<td class="ar-num ar-base">' + fmt(s.b ? s.b[m] : NaN) + '</td>' +
              '<td class="ar-num' + tone + '">' + fmt(d, true) + ciText(s.di, m, true) + '</td>';
          }
        });
      }
      html.push('<tr class="' + cls + '" data-slice="' + j + '" tabindex="0">' + cells + '</tr>');
    });
    if (!rows.length) {
      html.push('<tr><td colspan="' + (2 + self.shown.length * (hasB ? 3 : 1)) +
                '" class="ar-why">No slice matches the filters.</td></tr>');
    }
    this.tbody.innerHTML = html.join("");
    if (this.pager) {
      var total = this.view.length, of = this.rows.length;
      var pages = Math.max(1, Math.ceil(total / this.pageSize));
      this.pager.innerHTML = '<span class="ar-count">' +
        (total ? (start + 1).toLocaleString("en-US") + "\u2013" +
         Math.min(start + this.pageSize, total).toLocaleString("en-US") : "0") + ' of ' +
        total.toLocaleString("en-US") + (total !== of ? ' (filtered from ' +
        of.toLocaleString("en-US") + ')' : '') + '</span>' +
        '<button type="button" data-page="-1"' + (this.page <= 0 ? ' disabled' : '') +
        '>\u2039 prev</button><button type="button" data-page="1"' +
        (this.page >= pages - 1 ? ' disabled' : '') + '>next \u203a</button>' +
        '<select class="ar-psize" aria-label="rows per page">' + PAGE_SIZES.map(function (p) {
          return '<option' + (p === self.pageSize ? ' selected' : '') + '>' + p + '</option>';
        }).join("") + '</select>';
    }
  };

  // ----- the bar chart of one metric across the slices of the spec

  SpecView.prototype.buildBars = function () {
    var self = this, R = this.R, slot = el(this.section, ".ar-bars");
    var options = R.metrics.map(function (m, i) {
      if (m === "example_count") return "";
      return '<option value="' + i + '"' + (i === self.barMetric ? " selected" : "") + '>' +
        esc(m) + '</option>';
    }).join("");
    slot.innerHTML = '<div class="ar-tools"><label>Metric across slices <select class="ar-bm">' +
      options + '</select></label>' + (R.has_baseline ?
      '<label><select class="ar-bmodel"><option value="c">candidate (baseline ticked)</option>' +
      '<option value="d">\u0394 candidate \u2212 baseline</option></select></label>' : '') +
      '</div><div class="ar-barchart"></div>';
    el(slot, ".ar-bm").addEventListener("change", function (ev) {
      self.barMetric = +ev.target.value;
      self.renderBars();
    });
    var bm = el(slot, ".ar-bmodel");
    if (bm) bm.addEventListener("change", function (ev) {
      self.barModel = ev.target.value;
      self.renderBars();
    });
    el(slot, ".ar-barchart").addEventListener("click", function (ev) {
      var g = ev.target.closest("g[data-slice]");
      if (g) self.select(+g.getAttribute("data-slice"), false, true);
    });
    this.renderBars();
  };

  // An interval bar: a line from lower to upper with end caps.
  function whisker(a, b, y) {
    return '<path class="ar-whisker" d="M' + a.toFixed(1) + " " + (y - 4) + "v8M" +
      a.toFixed(1) + " " + y + "H" + b.toFixed(1) + "M" + b.toFixed(1) + " " + (y - 4) +
      'v8"/>';
  }

  // Bars grow from the overall value (from 0 for the change against the baseline), so the
  // slices that do worse than overall point one way and the worst one is the longest.
  SpecView.prototype.renderBars = function () {
    var R = this.R, m = this.barMetric, model = this.barModel, self = this;
    var name = R.metrics[m], dir = R.directions[name], signed = model === "d";
    var items = [], withheld = 0, nan = 0;
    this.rows.forEach(function (j) {
      var s = R.slices[j];
      if (s.h) { withheld++; return; }
      var v = self.value(j, model + ":" + m);
      if (isNaN(v)) { nan++; return; }
      items.push({j: j, v: v, b: model === "c" && s.b ? num(s.b[m]) : NaN,
                  ci: ciOf(model === "c" ? s.ci : model === "d" ? s.di : null, m)});
    });
    // Worst first: the lowest when higher is better, the highest when lower is better; with
    // no better direction, the largest first.
    var worstLow = dir === "higher";
    items.sort(function (a, b) { return (worstLow ? a.v - b.v : b.v - a.v) || a.j - b.j; });
    var MAX = 30, shownItems = items.slice(0, MAX), anySmall = false;
    var overall = NaN;
    R.slices.forEach(function (s) {
      if (!Object.keys(s.s).length && !s.h && s[model]) overall = num(s[model][m]);
    });
    var anchor = model === "c" && isFinite(overall) ? overall : 0;
    var vals = [anchor];
    shownItems.forEach(function (it) {
      vals.push(it.v);
      if (isFinite(it.b)) vals.push(it.b);
      if (it.ci) vals.push(it.ci[0], it.ci[1]);
    });
    if (isFinite(overall)) vals.push(overall);
    var ext = extent(vals, 0.05), x0 = ext[0], x1 = ext[1];
    var w = 820, labelW = 220, valueW = 110, row = 18, mt = 24;
    var h = mt + row * shownItems.length + 24;
    function px(x) { return labelW + (x - x0) / (x1 - x0) * (w - labelW - valueW); }
    var s = ['<svg width="' + w + '" height="' + h + '" role="img" aria-label="' + esc(name) +
             ' by slice">'];
    niceTicks(x0, x1, 6).forEach(function (t) {
      s.push('<line class="ar-grid" x1="' + px(t) + '" x2="' + px(t) + '" y1="' + (mt - 4) +
             '" y2="' + (h - 20) + '"/><text x="' + px(t) + '" y="' + (h - 6) +
             '" text-anchor="middle">' + fmt(t) + '</text>');
    });
    shownItems.forEach(function (it, i) {
      var sl = R.slices[it.j], y = mt + i * row, fails = sl.f[m] !== undefined;
      var worse = dir && it.v !== anchor && (it.v < anchor) === (dir === "higher");
      var color = i === 0 ? (fails ? "#8e1111" : "#c2410c") : fails ? "#d64545" :
        worse ? "#f0a35e" : "#7aa2e8";
      var small = num(sl.n) < self.small;
      if (small) anySmall = true;
      var a = px(anchor), b = px(it.v);
      var label = sl.k.length > 32 ? sl.k.slice(0, 31) + "\u2026" : sl.k;
      var tip = sl.k + ": " + name + (signed ? " \u0394 " : " ") + fmt(it.v, signed) +
        (isFinite(it.b) ? " (baseline " + fmt(it.b) + ")" : "") + ", " + fmt(sl.n) +
        " examples" + (it.ci ? "\ninterval " + fmt(it.ci[0], signed) + " to " +
        fmt(it.ci[1], signed) : "") + (fails ? "\nFAILS: " + sl.f[m] : "");
      s.push('<g class="ar-bar" data-slice="' + it.j + '"><title>' + esc(tip) + '</title>' +
             '<text x="' + (labelW - 6) + '" y="' + (y + 13) + '" text-anchor="end"' +
             (i === 0 ? ' font-weight="700"' : '') + '>' + esc(label) + '</text>' +
             '<rect class="ar-bv" x="' + Math.min(a, b).toFixed(1) + '" y="' + (y + 3) +
             '" width="' + Math.max(1.5, Math.abs(b - a)).toFixed(1) + '" height="' + (row - 5) +
             '" fill="' + color + '"' + (small ? ' fill-opacity="0.4" stroke="' + color +
             '" stroke-dasharray="2 2"' : '') + '/>' +
             (isFinite(it.b) ? '<line x1="' + px(it.b).toFixed(1) + '" x2="' + px(it.b).toFixed(1) +
              '" y1="' + (y + 1) + '" y2="' + (y + row - 1) + '" stroke="' + COLORS.baseline +
              '" stroke-width="2.5"/>' : '') + (it.ci ? whisker(px(it.ci[0]), px(it.ci[1]),
              y + row / 2 - 1) : '') +
             '<text x="' + (w - valueW + 8) + '" y="' + (y + 13) + '"' +
             (i === 0 ? ' font-weight="700"' : '') + '>' + fmt(it.v, signed) +
             (i === 0 ? " \u2190 worst" : "") + '</text></g>');
    });
    s.push('<line class="ar-axis" x1="' + px(anchor) + '" x2="' + px(anchor) + '" y1="' + (mt - 4) +
           '" y2="' + (h - 20) + '"/>');
    if (isFinite(overall)) {
      s.push('<text x="' + px(overall) + '" y="' + (mt - 9) + '" text-anchor="middle">overall ' +
             fmt(overall, signed) + '</text>');
      if (anchor !== overall) s.push('<line class="ar-ref" x1="' + px(overall) + '" x2="' +
        px(overall) + '" y1="' + (mt - 4) + '" y2="' + (h - 20) + '"/>');
    }
    s.push('</svg>');
    var note = (items.length > MAX ? "the " + MAX + " worst of " +
      items.length.toLocaleString("en-US") + " slices" : items.length + " slices") + ", " +
      (dir ? "worst first (" + dir + " is better)" : "largest first") +
      (model === "c" && isFinite(overall) ? "; bars start at the overall value" : "") +
      (anySmall ? "; faded: fewer than " + self.small + " examples" : "") +
      (withheld ? "; " + withheld + " withheld" : "") + (nan ? "; " + nan + " NaN" : "") +
      (model === "c" && R.has_baseline ? "; orange ticks: baseline" : "") +
      (shownItems.some(function (it) { return it.ci; }) ? "; whiskers: confidence intervals" : "");
    el(this.section, ".ar-barchart").innerHTML = '<div class="ar-chart" data-chart="bars"><h4>' +
      esc(name) + (signed ? " \u0394" : "") + ' by slice <small>' + esc(note) +
      '</small></h4>' + (items.length ? s.join("") : '<p class="ar-more">No values.</p>') +
      '</div>';
  };

  // ----- the plots of the selected slice

  SpecView.prototype.select = function (j, quiet, fromBars) {
    this.selected = j;
    Array.prototype.forEach.call(this.tbody.querySelectorAll("tr[data-slice]"), function (tr) {
      tr.classList.toggle("ar-sel", +tr.getAttribute("data-slice") === j);
    });
    var slot = el(this.section, ".ar-plots");
    slot.innerHTML = this.plotPanel(j);
    var self = this;
    Array.prototype.forEach.call(slot.querySelectorAll("input.ar-cmnorm"), function (box) {
      box.addEventListener("change", function () {
        slot.querySelector(".ar-cmwrap").innerHTML = self.confusion(j, box.checked);
      });
    });
    if (fromBars && slot.scrollIntoView) slot.scrollIntoView({block: "nearest"});
  };

  SpecView.prototype.plotPanel = function (j) {
    var R = this.R, s = R.slices[j], hasB = R.has_baseline;
    var head = '<h3>' + esc(s.k) + ' <small>' + fmt(s.n) + ' examples</small></h3>';
    if (s.h) return '<div class="ar-plotpanel" data-slice="' + j + '">' + head +
      '<p>' + esc(s.h) + '; no metrics or plots.</p></div>';
    var body = "";
    var p = s.p === null ? null : R.plots[s.p];
    if (!p) {
      body = '<p class="ar-more">No plots for this slice in the report' +
        (R.plots_left_out ? ' (left out to keep the page small; see assay_plots.json)' : '') + '.</p>';
    } else if (R.task === "multiclass") {
      body = '<div class="ar-tools"><label><input type="checkbox" class="ar-cmnorm" checked> ' +
        'share of each true class (rows sum to 1)</label></div><div class="ar-cmwrap">' +
        this.confusion(j, true) + '</div>';
    } else {
      var c = p.candidate || {}, b = p.baseline || {}, charts = [];
      if (c.roc) charts.push(this.curve("ROC curve", "roc", c.roc, b.roc, "false positive rate",
                                        "true positive rate", true, "fpr", "tpr"));
      if (c.pr) charts.push(this.curve("Precision-recall curve", "pr", c.pr, b.pr, "recall",
                                       "precision", false, "recall", "precision"));
      if (c.cal) charts.push(this.calibration(c.cal, b.cal));
      if (c.res) charts.push(this.residuals(c.res, b.res));
      body = legend(hasB && !!p.baseline) + '<div class="ar-charts">' + charts.join("") + '</div>';
    }
    return '<div class="ar-plotpanel" data-slice="' + j + '">' + head + body +
      this.allMetrics(s) + '</div>';
  };

  SpecView.prototype.curve = function (title, id, c, b, xl, yl, diag, xn, yn) {
    function series(d, name, dash) {
      return {name: name, color: COLORS[name], dash: dash, xs: d.x, ys: d.y,
              tips: d.x.map(function (x, i) {
                return name + ": " + xn + " " + fmt(x) + ", " + yn + " " + fmt(d.y[i]) +
                  (d.t[i] === null ? "" : ", threshold " + fmt(d.t[i]));
              })};
    }
    var ss = [series(c, "candidate", false)];
    if (b) ss.unshift(series(b, "baseline", true));
    return lineChart({title: title, id: id, w: 300, h: 270, x: [0, 1], y: [0, 1], xl: xl,
                      yl: yl, diag: diag, series: ss});
  };

  SpecView.prototype.calibration = function (c, b) {
    function series(d, name, dash) {
      return {name: name, color: COLORS[name], dash: dash, xs: d.p, ys: d.l, dots: true,
              tips: d.p.map(function (x, i) {
                return name + ", bin " + fmt(d.bins[i]) + "\u2013" + fmt(d.bins[i] + (d.bins[1] -
                  d.bins[0])) + ": mean prediction " + fmt(x) + ", mean label " + fmt(d.l[i]) +
                  ", weight " + fmt(d.w[i]);
              })};
    }
    var ss = [series(c, "candidate", false)];
    if (b) ss.unshift(series(b, "baseline", true));
    ss.forEach(function (sr, k) {
      var d = k === ss.length - 1 ? c : b, total = 0;
      d.w.forEach(function (x) { total += num(x) || 0; });
      sr.radii = d.w.map(function (x) { return 2 + 5 * Math.sqrt((num(x) || 0) / (total || 1)); });
    });
    return lineChart({title: "Calibration", id: "calibration", w: 300, h: 270, x: [0, 1],
                      y: [0, 1], xl: "mean prediction (dot area ~ weight)", yl: "mean label",
                      diag: true,
                      series: ss});
  };

  SpecView.prototype.residuals = function (c, b) {
    function series(d, name, dash) {
      return {name: name, color: COLORS[name], dash: dash, xs: d.q, ys: d.v,
              tips: d.q.map(function (q, i) {
                return name + ": quantile " + fmt(q) + ", residual " + fmt(d.v[i]);
              })};
    }
    var ss = [series(c, "candidate", false)];
    if (b) ss.unshift(series(b, "baseline", true));
    var vals = c.v.map(num).concat(b ? b.v.map(num) : []).concat([0]);
    return lineChart({title: "Residual quantiles (label \u2212 prediction)", id: "residuals",
                      w: 420, h: 280, x: [0, 1], y: extent(vals, 0.05), xl: "quantile",
                      yl: "residual", zero: true, series: ss});
  };

  SpecView.prototype.confusion = function (j, normalize) {
    var R = this.R, p = R.plots[R.slices[j].p];
    var out = "";
    ["candidate", "baseline"].forEach(function (model) {
      var cm = p[model] && p[model].cm;
      if (!cm) return;
      var m = cm.m.map(function (row) { return row.map(num); });
      var max = 0;
      var shown = m.map(function (row) {
        var total = row.reduce(function (a, v) { return a + (isFinite(v) ? v : 0); }, 0);
        return row.map(function (v) {
          var x = normalize ? (total ? v / total : NaN) : v;
          if (isFinite(x)) max = Math.max(max, x);
          return x;
        });
      });
      var html = '<div class="ar-chart" data-chart="confusion-' + model + '"><h4>' +
        '<span class="ar-key ar-' + model + '"></span>Confusion matrix, ' + model +
        ' <small>rows: true class, columns: predicted</small></h4><table class="ar-t ar-cm">' +
        '<thead><tr><th></th>' + cm.labels.map(function (l) {
          return '<th>' + esc(l) + '</th>';
        }).join("") + '</tr></thead><tbody>';
      shown.forEach(function (row, i) {
        html += '<tr><th class="ar-rowh">' + esc(cm.labels[i]) + '</th>';
        row.forEach(function (v, k) {
          var alpha = max > 0 && isFinite(v) ? v / max : 0;
          var bg = model === "candidate" ? "37,99,235" : "224,123,18";
          html += '<td style="background:rgba(' + bg + ',' + (0.85 * alpha).toFixed(3) + ');' +
            (alpha > 0.55 ? 'color:#fff;' : '') + (i === k ? 'font-weight:700;' : '') +
            '" title="true ' + esc(cm.labels[i]) + ', predicted ' + esc(cm.labels[k]) + ': ' +
            fmt(m[i][k]) + '">' + (normalize ? fmt(v) : fmt(Math.round(v * 10) / 10)) + '</td>';
        });
        html += '</tr>';
      });
      out += html + '</tbody></table></div>';
    });
    return '<div class="ar-charts">' + out + '</div>';
  };

  SpecView.prototype.allMetrics = function (s) {
    var R = this.R, rows = "";
    R.metrics.forEach(function (m, i) {
      rows += '<tr><td>' + esc(m) + (s.f[i] !== undefined ? ' <span class="ar-tag ar-tfail" ' +
        'title="' + esc(s.f[i]) + '">FAIL</span>' : '') + '</td><td class="ar-num">' +
        fmt(s.c[i]) + '</td>' + (R.has_baseline ? '<td class="ar-num">' +
        fmt(s.b ? s.b[i] : NaN) + '</td><td class="ar-num">' + fmt(s.d ? s.d[i] : NaN, true) +
        '</td>' : '') + '</tr>';
    });
    return '<details class="ar-allm"><summary>All ' + R.metrics.length + ' metrics of this ' +
      'slice</summary><table class="ar-t"><thead><tr><th>metric</th><th>candidate</th>' +
      (R.has_baseline ? '<th>baseline</th><th>\u0394</th>' : '') + '</tr></thead><tbody>' + rows +
      '</tbody></table></details>';
  };

  // ---------------------------------------------------------------------------------------
  // Metrics over time (a comparison of several results)

  function TimelineView(app, slot) {
    var T = app.data.timeline, self = this;
    this.T = T;
    this.runs = app.data.runs;
    this.slot = slot;
    this.slice = 0;
    T.slices.forEach(function (s, i) { if (s.k === "overall") self.slice = i; });
    this.metrics = app.R.default_metrics.filter(function (m) { return T.metrics.indexOf(m) >= 0; });
    if (!this.metrics.length) this.metrics = T.metrics.slice(0, 4);
    var opts = T.slices.map(function (s, i) {
      return '<option value="' + i + '"' + (i === self.slice ? " selected" : "") + '>' +
        esc(s.k) + '</option>';
    }).join("");
    var boxes = T.metrics.map(function (m) {
      return '<label><input type="checkbox" value="' + esc(m) + '"' +
        (self.metrics.indexOf(m) >= 0 ? " checked" : "") + '> ' + esc(m) + '</label>';
    }).join("");
    slot.innerHTML = '<div class="ar-tools"><label>Slice <select class="ar-tslice">' + opts +
      '</select></label><details class="ar-cols"><summary>Metrics</summary>' +
      '<div class="ar-colbox">' +
      boxes + '</div></details>' + (T.left_out ? '<span class="ar-more">' + T.left_out +
      ' more slices are not in the report</span>' : '') + '</div>' +
      legend(true, '<span><i class="ar-sw" style="border-color:#c62828"></i>hollow point: ' +
             'NOT_BLESSED</span>') + '<div class="ar-charts ar-tcharts"></div>';
    el(slot, ".ar-tslice").addEventListener("change", function (ev) {
      self.slice = +ev.target.value;
      self.render();
    });
    el(slot, ".ar-colbox").addEventListener("change", function () {
      self.metrics = Array.prototype.filter.call(slot.querySelectorAll(".ar-colbox input"),
        function (b) { return b.checked; }).map(function (b) { return b.value; });
      self.render();
    });
    this.render();
  }

  TimelineView.prototype.render = function () {
    var T = this.T, s = T.slices[this.slice], runs = this.runs;
    var n = T.labels.length, xs = T.labels.map(function (_, i) { return i; });
    var charts = this.metrics.map(function (m) {
      var k = T.metrics.indexOf(m);
      function pick(series) {
        return series.map(function (v) { return v ? num(v[k]) : NaN; });
      }
      var c = pick(s.c), b = pick(s.b);
      var hasB = b.some(isFinite);
      var ss = [];
      if (hasB) ss.push({name: "baseline", color: COLORS.baseline, dash: true, xs: xs, ys: b,
                         dots: true, tips: b.map(function (v, i) {
                           return T.labels[i] + ": baseline " + m + " " + fmt(v);
                         })});
      ss.push({name: "candidate", color: COLORS.candidate, xs: xs, ys: c, dots: true,
               hollow: runs.map(function (r) { return r.blessed === false; }),
               tips: c.map(function (v, i) {
                 var r = runs[i];
                 return T.labels[i] + ": " + m + " " + fmt(v) + (r.blessed === null ? "" :
                   r.blessed ? " (BLESSED)" : " (NOT_BLESSED: " + r.reasons.join("; ") + ")");
               })});
      return lineChart({title: m, id: "t-" + m, w: 340, h: 230, x: [-0.5, n - 0.5],
                        y: extent(c.concat(b), 0.1), cats: T.labels, series: ss});
    });
    el(this.slot, ".ar-tcharts").innerHTML = charts.join("") ||
      '<p class="ar-more">Pick metrics to chart.</p>';
  };

  // ---------------------------------------------------------------------------------------
  // Boot

  // The change against the baseline, candidate - baseline, as assay.engine.assemble computes it.
  function addDiffs(R) {
    R.slices.forEach(function (s) {
      s.d = s.c && s.b ? s.c.map(function (c, i) {
        var d = num(c) - num(s.b[i]);
        return isNaN(d) ? null : d;
      }) : null;
    });
  }

  function Report(root, data) {
    var self = this;
    this.root = root;
    this.data = data;
    this.R = data.result;
    addDiffs(this.R);
    this.specs = this.R.specs.map(function (spec, i) {
      var section = root.querySelector('.ar-spec[data-spec="' + i + '"]');
      return section ? new SpecView(self, i, spec, section) : null;
    });
    if (data.kind === "compare") {
      var slot = root.querySelector(".ar-timeline");
      if (slot) this.timeline = new TimelineView(this, slot);
    }
  }

  function boot(script, rootId, tries) {
    var root = script && script.closest ? script.closest(".assay-report") : null;
    if (!root) root = document.getElementById(rootId);
    if (!root) {
      // JupyterLab may run the script before the output is attached to the document.
      if ((tries || 0) < 100) setTimeout(function () { boot(null, rootId, (tries || 0) + 1); }, 50);
      return null;
    }
    if (root.assayReport) return root.assayReport;
    var t0 = performance.now();
    var data = JSON.parse(root.querySelector("script.ar-data").textContent);
    var t1 = performance.now();
    var app = new Report(root, data);
    var t2 = performance.now();
    app.timing = {parse_ms: t1 - t0, render_ms: t2 - t1, ready_at_ms: t2};
    root.assayReport = app;
    root.classList.add("ar-live");
    (window.assayReports = window.assayReports || []).push(app);
    return app;
  }

  return {boot: boot, fmt: fmt, parseFilter: parseFilter};
})();
window.assayReport = assayReport;
