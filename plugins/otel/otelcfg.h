/*
 * plugins/otel/otelcfg.h - the OpenTelemetry environment the otel plugin
 * reads, as plain parsers with no library behind them (fuzzed by
 * tests/fuzz/run.sh otel).
 */
#ifndef FAULT_OTEL_OTELCFG_H
#define FAULT_OTEL_OTELCFG_H

#include <stdbool.h>
#include <stddef.h>

/* One key=value pair of a list, both percent-decoded. */
typedef struct otel_kv {
    char *key;
    char *value;
} otel_kv;

/*
 * Reads "key1=value1,key2=value2" (OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_EXPORTER_OTLP_HEADERS): whitespace around keys and values is
 * dropped, both are percent-decoded ("%2C" is a comma), an empty list
 * gives no pair. With headers set, keys must be HTTP tokens and values
 * may not hold control characters (a decoded CR/LF would smuggle a
 * header). Appends to *kv / *n (realloc'd). Returns 0, or -1 with the
 * reason in err ("entry 2: no '='"); on error nothing is appended.
 */
int otel_kv_parse(const char *text, bool headers, otel_kv **kv, size_t *n, char *err,
                  size_t errlen);
void otel_kv_free(otel_kv *kv, size_t n);

/* A timeout or interval in milliseconds: digits only, 0 to 3600000 (an
 * hour; more is surely a mistake). Returns 0 with *ms, or -1. */
int otel_parse_ms(const char *text, long *ms);

/* An endpoint URL, checked for what a collector address must be:
 * http:// or https://, a host, an optional port of 1 to 65535, an
 * optional path, no spaces or control characters. Returns 0, or -1 with
 * the reason in err. */
int otel_check_url(const char *url, char *err, size_t errlen);

#endif /* FAULT_OTEL_OTELCFG_H */
