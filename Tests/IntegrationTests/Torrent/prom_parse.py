"""Reads Prometheus text from stdin with the prometheus-client parser; prints one sample a line:
name{label="value",...} value (labels sorted). Exits 1 if the text does not parse."""
import sys

from prometheus_client.parser import text_string_to_metric_families

try:
    for family in text_string_to_metric_families(sys.stdin.read()):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            print(f"{sample.name}{{{labels}}} {sample.value}")
except Exception as error:  # the parser raises ValueError and others for bad text
    print(f"unparsable: {error}", file=sys.stderr)
    sys.exit(1)
