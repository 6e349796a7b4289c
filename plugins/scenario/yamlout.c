/*
 * plugins/scenario/yamlout.c - writes a cJSON tree as a YAML document with
 * libyaml's emitter: results.yaml, YAML reports and generated scenarios.
 *
 * libyaml chooses how to quote a string from its characters alone; it does
 * not know that a plain `true`, `123`, `null` or `0x1f` would be read back
 * as something other than a string. Such strings are marked as not plain
 * implicit, so the emitter quotes them, and every string reads back as the
 * string it was, with YAML 1.1 readers too (yes/no/on/off).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "scenario.h"

static int on_write(void *data, unsigned char *buffer, size_t size)
{
    sc_buf *b = data;
    sc_buf_put(b, (const char *)buffer, size);
    return !b->oom;
}

static bool looks_special(const char *s)
{
    static const char *const words[] = {"null", "~", "true", "false", "yes",   "no",   "on",
                                        "off",  "y", "n",    ".inf",  "-.inf", ".nan", NULL};
    if (!*s)
        return true;
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return true;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p) && *p != '.')
        return false;
    /* What a YAML 1.1 or 1.2 reader could take for a number: decimal
     * (with '_' separators), hex/octal/binary, sexagesimal (1:30) and
     * dates. "10s" or "3fa85f64-..." stay plain. */
    if (strchr(s, ':') || (p[0] == '0' && p[1] && strchr("xXoObB", p[1])))
        return true;
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
        isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) && p[4] == '-')
        return true;
    char clean[64];
    size_t j = 0;
    for (const char *q = s; *q && j + 1 < sizeof clean; q++)
        if (*q != '_')
            clean[j++] = *q;
    clean[j] = '\0';
    char *end = NULL;
    strtod(clean, &end);
    return end && end != clean && !*end;
}

static int emit_scalar(yaml_emitter_t *em, const char *v, bool plain_only)
{
    yaml_event_t ev;
    int plain_implicit = plain_only || !looks_special(v);
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)v, (int)strlen(v),
                                      plain_implicit, !plain_only, YAML_ANY_SCALAR_STYLE))
        return -1;
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_node(yaml_emitter_t *em, const cJSON *n, int depth)
{
    yaml_event_t ev;
    if (depth > 200)
        return -1;
    if (cJSON_IsObject(n)) {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return -1;
        for (const cJSON *c = n->child; c; c = c->next) {
            if (emit_scalar(em, c->string ? c->string : "", false) != 0 ||
                emit_node(em, c, depth + 1) != 0)
                return -1;
        }
        if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
            return -1;
        return 0;
    }
    if (cJSON_IsArray(n)) {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return -1;
        for (const cJSON *c = n->child; c; c = c->next)
            if (emit_node(em, c, depth + 1) != 0)
                return -1;
        if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
            return -1;
        return 0;
    }
    if (cJSON_IsString(n))
        return emit_scalar(em, n->valuestring, false);
    if (cJSON_IsBool(n))
        return emit_scalar(em, cJSON_IsTrue(n) ? "true" : "false", true);
    if (cJSON_IsNumber(n)) {
        char buf[64];
        double d = n->valuedouble;
        if (!isfinite(d))
            snprintf(buf, sizeof buf, "null");
        else if (d == floor(d) && fabs(d) < 9.007199254740992e15)
            snprintf(buf, sizeof buf, "%.0f", d);
        else
            snprintf(buf, sizeof buf, "%.17g", d);
        /* Prefer the shortest form that reads back the same. */
        for (int prec = 6; prec < 17 && strchr(buf, '.'); prec++) {
            char t[64];
            snprintf(t, sizeof t, "%.*g", prec, d);
            if (strtod(t, NULL) == d) {
                snprintf(buf, sizeof buf, "%s", t);
                break;
            }
        }
        return emit_scalar(em, buf, true);
    }
    return emit_scalar(em, "null", true);
}

int sc_yaml_emit(sc_buf *out, const cJSON *doc, bool explicit_start)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em))
        return -1;
    yaml_emitter_set_output(&em, on_write, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    int rc = -1;
    if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
        yaml_emitter_emit(&em, &ev) &&
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, !explicit_start) &&
        yaml_emitter_emit(&em, &ev) && emit_node(&em, doc, 0) == 0 &&
        yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
        yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
        yaml_emitter_flush(&em))
        rc = 0;
    yaml_emitter_delete(&em);
    return rc || out->oom ? -1 : 0;
}
