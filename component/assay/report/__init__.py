"""The self-contained HTML report and the notebook view of EvalResult objects.

    data.py      report_data: the JSON document the page embeds (slices, plots, timeline)
    html.py      render_report, render_notebook, write_report: the page around that document
    assets/      report.js (the tables and charts, drawn in the browser) and report.css
"""
