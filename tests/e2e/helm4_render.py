"""Render a chart with the Helm v4 engine (PyPI helm-python-sdk), for one values flag.

Input: `python helm4_render.py <chart dir> <release> <namespace> <flag> <text>`, with flag one
of `--set`, `--set-string`, `--set-json` or `--set-literal` and text its argument, parsed by
Helm's own strvals parser; or `-` and an empty text for the chart's defaults alone. One flag
only: the SDK parses one expression into a fresh map, and merging several into one map is the
Helm CLI's job (`MergeValues`), which the SDK does not expose.
Output: on stdout one JSON line, {"manifests": {template path: rendered text}} when the chart
renders (values coalesced over the chart's defaults and validated against its
values.schema.json, as `helm template` does), or {"error": message} when Helm refuses; exit 0
either way. Exit 2 for a usage error.

Needs helm-python-sdk, as installed into <out>/helm/venv by scripts/install-helm.
"""

import json
import sys

import helm_python as helm

PARSERS = {
    "--set": helm.parse_set_string,
    "--set-string": helm.parse_set_string_values,
    "--set-json": helm.parse_set_json,
    "--set-literal": helm.parse_set_literal,
}


def main() -> int:
    if len(sys.argv) != 6 or (sys.argv[4] != "-" and sys.argv[4] not in PARSERS):
        print(__doc__, file=sys.stderr)
        return 2
    chart_dir, release, namespace, flag, text = sys.argv[1:]
    try:
        values = {} if flag == "-" else PARSERS[flag](text)
        with helm.Chart.load(chart_dir) as chart:
            manifests = chart.render(values=values, name=release, namespace=namespace, is_install=True)
        print(json.dumps({"manifests": manifests}))
    except helm.HelmError as error:
        print(json.dumps({"error": str(error)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
