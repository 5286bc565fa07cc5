"""The deployment monitoring report of `rollout report`: what a stack's apps look like in Prometheus.

* ``config``: what to look at, from the stack config (apps, strategies, limits, prometheusUrl,
  reportThresholds);
* ``queries``: the PromQL of every figure, and the series they read (documented there);
* ``collect``: runs the queries (instant and range) and assembles the report and its alerts;
* ``alerts``: the alert rules, their thresholds and evaluation (pure);
* ``render``: Markdown and HTML; ``charts``: PNG charts (matplotlib, imported lazily);
* ``notify``: alerts through the gate notifier, repeats collapsed.

Nothing here does I/O at import.
"""
