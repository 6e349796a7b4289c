/*
 * plugins/scenario/openapi.c - reads an OpenAPI 3.0.x or 3.1.x document
 * (JSON with cJSON, YAML through libyaml into the same cJSON tree) into
 * the operations `fault scenario generate` makes scenarios for.
 *
 * For each operation: its method, path and URL (first server, variables
 * replaced by their defaults, relative servers resolved against the
 * document's URL), its operationId (or one derived from method and path),
 * the path parameters with the value the document gives (example, default,
 * first enum value), else a placeholder of their type,
 * and for POST, PUT and PATCH a JSON body: the media type's example, else
 * one built from the schema (resolving local $refs, merging allOf, taking
 * the first oneOf/anyOf choice, preferring example, default, const and
 * enum values, then a plausible value per type and format).
 *
 * Documents come from users and from the network: every walk is bounded
 * in depth, $ref cycles are cut, and sizes are capped.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scenario.h"

#define MAX_OPS   10000
#define MAX_DEPTH 12
#define MAX_PROPS 64

typedef struct reader {
    const cJSON *root;
    const cJSON *stack[MAX_DEPTH + 4]; /* $ref targets being expanded */
    int nstack;
} reader;

/* ---- JSON pointers ---- */

static const cJSON *resolve_pointer(const cJSON *root, const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0)
        return ref[0] == '#' && !ref[1] ? root : NULL;
    const cJSON *cur = root;
    const char *p = ref + 2;
    char tok[512];
    while (cur && *p) {
        size_t j = 0;
        for (; *p && *p != '/' && j + 1 < sizeof tok; p++) {
            if (*p == '~' && p[1] == '1') {
                tok[j++] = '/';
                p++;
            } else if (*p == '~' && p[1] == '0') {
                tok[j++] = '~';
                p++;
            } else if (*p == '%' && isxdigit((unsigned char)p[1]) &&
                       isxdigit((unsigned char)p[2])) {
                char hex[3] = {p[1], p[2], 0};
                tok[j++] = (char)strtol(hex, NULL, 16);
                p += 2;
            } else {
                tok[j++] = *p;
            }
        }
        tok[j] = '\0';
        if (*p == '/')
            p++;
        if (cJSON_IsArray(cur)) {
            char *end = NULL;
            long idx = strtol(tok, &end, 10);
            cur = end && !*end && idx >= 0 ? cJSON_GetArrayItem(cur, (int)idx) : NULL;
        } else {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        }
    }
    return cur;
}

/* Follows $ref chains (at most 16 hops). */
static const cJSON *deref(const reader *R, const cJSON *n)
{
    for (int hops = 0; n && hops < 16; hops++) {
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(n, "$ref");
        if (!cJSON_IsString(ref))
            return n;
        n = resolve_pointer(R->root, ref->valuestring);
    }
    return n;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- example values from schemas ---- */

static bool on_stack(const reader *R, const cJSON *n)
{
    for (int i = 0; i < R->nstack; i++)
        if (R->stack[i] == n)
            return true;
    return false;
}

static cJSON *example_of(reader *R, const cJSON *schema, int depth);

static const char *type_of(const cJSON *s)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (cJSON_IsString(t))
        return t->valuestring;
    /* 3.1: a list of types; the first that is not "null". */
    if (cJSON_IsArray(t)) {
        for (const cJSON *e = t->child; e; e = e->next)
            if (cJSON_IsString(e) && strcmp(e->valuestring, "null") != 0)
                return e->valuestring;
        return "null";
    }
    if (cJSON_GetObjectItemCaseSensitive(s, "properties"))
        return "object";
    if (cJSON_GetObjectItemCaseSensitive(s, "items"))
        return "array";
    return NULL;
}

static cJSON *string_example(const char *format)
{
    static const struct {
        const char *format, *value;
    } formats[] = {
        {"date-time", "2024-01-01T00:00:00Z"},
        {"date", "2024-01-01"},
        {"time", "12:00:00"},
        {"email", "user@example.com"},
        {"uuid", "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
        {"uri", "https://example.com/"},
        {"url", "https://example.com/"},
        {"hostname", "example.com"},
        {"ipv4", "192.0.2.1"},
        {"ipv6", "2001:db8::1"},
        {"byte", "ZmF1bHQ="},
        {"password", "secret"},
    };
    for (size_t i = 0; format && i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(format, formats[i].format) == 0)
            return cJSON_CreateString(formats[i].value);
    return cJSON_CreateString("string");
}

static cJSON *object_example(reader *R, const cJSON *s, int depth)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    /* Properties are a mapping; anything else (a list) names none. */
    if (!cJSON_IsObject(props))
        props = NULL;
    int n = 0;
    for (const cJSON *p = props ? props->child : NULL; p && n < MAX_PROPS; p = p->next, n++) {
        const cJSON *ps = deref(R, p);
        /* Read-only properties are the server's to fill. */
        if (ps && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ps, "readOnly")))
            continue;
        cJSON *v = example_of(R, p, depth + 1);
        if (!v)
            v = cJSON_CreateNull();
        if (!p->string || !cJSON_AddItemToObject(o, p->string, v))
            cJSON_Delete(v);
    }
    return o;
}

static cJSON *example_of(reader *R, const cJSON *schema, int depth)
{
    if (!schema || depth > MAX_DEPTH || R->nstack >= MAX_DEPTH)
        return cJSON_CreateNull();
    const cJSON *s = deref(R, schema);
    if (!s || !cJSON_IsObject(s) || on_stack(R, s))
        return cJSON_CreateNull(); /* unresolvable, or a $ref cycle */
    R->stack[R->nstack++] = s;
    cJSON *out = NULL;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(s, "example")))
        out = cJSON_Duplicate(v, true);
    else if ((v = cJSON_GetObjectItemCaseSensitive(s, "examples")) && cJSON_IsArray(v) && v->child)
        out = cJSON_Duplicate(v->child, true);
    else if ((v = cJSON_GetObjectItemCaseSensitive(s, "default")))
        out = cJSON_Duplicate(v, true);
    else if ((v = cJSON_GetObjectItemCaseSensitive(s, "const")))
        out = cJSON_Duplicate(v, true);
    else if ((v = cJSON_GetObjectItemCaseSensitive(s, "enum")) && cJSON_IsArray(v) && v->child)
        out = cJSON_Duplicate(v->child, true);
    else if ((v = cJSON_GetObjectItemCaseSensitive(s, "allOf")) && cJSON_IsArray(v)) {
        /* Every part applies: merge the objects they describe. */
        out = cJSON_CreateObject();
        for (const cJSON *part = v->child; part; part = part->next) {
            cJSON *x = example_of(R, part, depth + 1);
            if (cJSON_IsObject(x)) {
                while (x->child) {
                    cJSON *c = cJSON_DetachItemViaPointer(x, x->child);
                    cJSON_DeleteItemFromObjectCaseSensitive(out, c->string);
                    cJSON_AddItemToObject(out, c->string, c);
                }
            }
            cJSON_Delete(x);
        }
        /* Properties beside allOf belong to the object too. */
        cJSON *own = object_example(R, s, depth);
        while (own && own->child) {
            cJSON *c = cJSON_DetachItemViaPointer(own, own->child);
            cJSON_DeleteItemFromObjectCaseSensitive(out, c->string);
            cJSON_AddItemToObject(out, c->string, c);
        }
        cJSON_Delete(own);
    } else if (((v = cJSON_GetObjectItemCaseSensitive(s, "oneOf")) ||
                (v = cJSON_GetObjectItemCaseSensitive(s, "anyOf"))) &&
               cJSON_IsArray(v) && v->child) {
        out = example_of(R, v->child, depth + 1);
    } else {
        const char *t = type_of(s);
        if (!t)
            out = cJSON_CreateNull();
        else if (strcmp(t, "object") == 0)
            out = object_example(R, s, depth);
        else if (strcmp(t, "array") == 0) {
            out = cJSON_CreateArray();
            const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
            if (items)
                cJSON_AddItemToArray(out, example_of(R, items, depth + 1));
        } else if (strcmp(t, "string") == 0)
            out = string_example(str_of(s, "format"));
        else if (strcmp(t, "integer") == 0 || strcmp(t, "number") == 0) {
            const cJSON *min = cJSON_GetObjectItemCaseSensitive(s, "minimum");
            out = cJSON_CreateNumber(cJSON_IsNumber(min) ? min->valuedouble : 0);
        } else if (strcmp(t, "boolean") == 0)
            out = cJSON_CreateTrue();
        else
            out = cJSON_CreateNull();
    }
    R->nstack--;
    return out ? out : cJSON_CreateNull();
}

/* ---- operations ---- */

static char *body_for(reader *R, const cJSON *op)
{
    const cJSON *rb = deref(R, cJSON_GetObjectItemCaseSensitive(op, "requestBody"));
    const cJSON *content = rb ? cJSON_GetObjectItemCaseSensitive(rb, "content") : NULL;
    if (!cJSON_IsObject(content) || !content->child)
        return NULL;
    const cJSON *media = cJSON_GetObjectItemCaseSensitive(content, "application/json");
    for (const cJSON *c = content->child; !media && c; c = c->next)
        if (strstr(c->string, "json"))
            media = c;
    if (!media)
        media = content->child;
    cJSON *ex = NULL;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(media, "example")))
        ex = cJSON_Duplicate(v, true);
    else if ((v = cJSON_GetObjectItemCaseSensitive(media, "examples")) && cJSON_IsObject(v) &&
             v->child) {
        const cJSON *first = deref(R, v->child);
        const cJSON *val = first ? cJSON_GetObjectItemCaseSensitive(first, "value") : NULL;
        if (val)
            ex = cJSON_Duplicate(val, true);
    }
    if (!ex)
        ex = example_of(R, cJSON_GetObjectItemCaseSensitive(media, "schema"), 0);
    char *s = NULL;
    if (ex && !cJSON_IsNull(ex))
        s = cJSON_IsString(ex) ? strdup(ex->valuestring) : cJSON_PrintUnformatted(ex);
    cJSON_Delete(ex);
    return s;
}

/*
 * A value of the parameter's type when the document gives none, so that a
 * generated scenario runs as generated: a number (its minimum, else 1: an
 * identifier is rarely 0), true, a string of the schema's format, else
 * "example".
 */
static char *param_placeholder(reader *R, const cJSON *schema)
{
    const cJSON *s = schema ? deref(R, schema) : NULL;
    const char *t = s ? type_of(s) : NULL;
    if (t && (strcmp(t, "integer") == 0 || strcmp(t, "number") == 0)) {
        const cJSON *min = cJSON_GetObjectItemCaseSensitive(s, "minimum");
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", cJSON_IsNumber(min) ? min->valuedouble : 1.0);
        return strdup(buf);
    }
    if (t && strcmp(t, "boolean") == 0)
        return strdup("true");
    if (t && strcmp(t, "string") == 0 && str_of(s, "format")) {
        cJSON *v = string_example(str_of(s, "format"));
        char *out = v && cJSON_IsString(v) && strcmp(v->valuestring, "string") != 0
                        ? strdup(v->valuestring)
                        : NULL;
        cJSON_Delete(v);
        if (out)
            return out;
    }
    return strdup("example");
}

/* A value for a path parameter: the document's example, default or first
 * enum value, else a placeholder of its type; NULL when the parameter is
 * not declared in params. */
static char *param_example(reader *R, const cJSON *params, const char *name)
{
    for (const cJSON *p = params ? params->child : NULL; p; p = p->next) {
        const cJSON *pp = deref(R, p);
        if (!pp || !str_of(pp, "name") || strcmp(str_of(pp, "name"), name) != 0)
            continue;
        const char *in = str_of(pp, "in");
        if (in && strcmp(in, "path") != 0)
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(pp, "example");
        const cJSON *schema = deref(R, cJSON_GetObjectItemCaseSensitive(pp, "schema"));
        if (!v && schema) {
            v = cJSON_GetObjectItemCaseSensitive(schema, "example");
            if (!v)
                v = cJSON_GetObjectItemCaseSensitive(schema, "default");
            if (!v) {
                const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
                v = cJSON_IsArray(en) ? en->child : NULL;
            }
        }
        if (!v) {
            const cJSON *exs = cJSON_GetObjectItemCaseSensitive(pp, "examples");
            const cJSON *first = exs && exs->child ? deref(R, exs->child) : NULL;
            v = first ? cJSON_GetObjectItemCaseSensitive(first, "value") : NULL;
        }
        if (cJSON_IsString(v))
            return strdup(v->valuestring);
        if (cJSON_IsNumber(v)) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
            return strdup(buf);
        }
        if (cJSON_IsBool(v))
            return strdup(cJSON_IsTrue(v) ? "true" : "false");
        return param_placeholder(R, schema);
    }
    return NULL;
}

static char *derive_id(const char *method, const char *path)
{
    sc_buf b = {0};
    for (const char *m = method; *m; m++) {
        char c = (char)tolower((unsigned char)*m);
        sc_buf_put(&b, &c, 1);
    }
    for (const char *p = path; *p; p++) {
        char c = isalnum((unsigned char)*p) ? *p : '_';
        if (c == '_' && b.len && b.p[b.len - 1] == '_')
            continue;
        sc_buf_put(&b, &c, 1);
    }
    while (b.len && b.p[b.len - 1] == '_')
        b.p[--b.len] = '\0';
    return b.p;
}

static int add_op(reader *R, sc_api *api, const char *method, const char *path, const cJSON *item,
                  const cJSON *op)
{
    if (api->nops >= MAX_OPS)
        return 0;
    sc_operation *ops = realloc(api->ops, (api->nops + 1) * sizeof *ops);
    if (!ops)
        return -1;
    api->ops = ops;
    sc_operation *o = &api->ops[api->nops++];
    memset(o, 0, sizeof *o);
    o->method = strdup(method);
    for (char *c = o->method; c && *c; c++)
        *c = (char)toupper((unsigned char)*c);
    o->path = strdup(path);
    size_t ulen = strlen(api->base) + strlen(path) + 1;
    o->url = malloc(ulen);
    if (o->url)
        snprintf(o->url, ulen, "%s%s", api->base, path);
    const char *id = str_of(op, "operationId");
    o->operation_id = id ? strdup(id) : derive_id(method, path);
    if (strcmp(o->method, "POST") == 0 || strcmp(o->method, "PUT") == 0 ||
        strcmp(o->method, "PATCH") == 0)
        o->body = body_for(R, op);
    /* Path parameters: every {name} of the template. */
    for (const char *p = path; (p = strchr(p, '{'));) {
        const char *end = strchr(p, '}');
        if (!end)
            break;
        char *name = sc_strndup(p + 1, (size_t)(end - p - 1));
        p = end + 1;
        if (!name)
            return -1;
        char *ex = param_example(R, cJSON_GetObjectItemCaseSensitive(op, "parameters"), name);
        if (!ex)
            ex = param_example(R, cJSON_GetObjectItemCaseSensitive(item, "parameters"), name);
        sc_pair *seg = realloc(o->segments, (o->nsegments + 1) * sizeof *seg);
        if (!seg) {
            free(name);
            free(ex);
            return -1;
        }
        o->segments = seg;
        o->segments[o->nsegments].name = name;
        o->segments[o->nsegments].value = ex ? ex : strdup("example");
        o->nsegments++;
    }
    return o->method && o->path && o->url && o->operation_id ? 0 : -1;
}

/* The first server's URL, variables replaced; relative ones resolved
 * against where the document came from. */
static char *server_base(const cJSON *root, const char *base_url)
{
    const cJSON *servers = cJSON_GetObjectItemCaseSensitive(root, "servers");
    const cJSON *first = cJSON_IsArray(servers) ? servers->child : NULL;
    const char *url = first ? str_of(first, "url") : NULL;
    const cJSON *vars = first ? cJSON_GetObjectItemCaseSensitive(first, "variables") : NULL;
    sc_buf b = {0};
    for (const char *p = url ? url : ""; *p;) {
        if (*p == '{' && strchr(p, '}')) {
            const char *end = strchr(p, '}');
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
            const cJSON *var = cJSON_GetObjectItemCaseSensitive(vars, name);
            const char *def = var ? str_of(var, "default") : NULL;
            sc_buf_puts(&b, def ? def : "");
            p = end + 1;
        } else {
            sc_buf_put(&b, p, 1);
            p++;
        }
    }
    char *u = b.p ? b.p : strdup("");
    if (!u)
        return NULL;
    if (strstr(u, "://") == NULL) {
        /* Relative: against the document's origin, else localhost. */
        char origin[1024] = "http://localhost";
        if (base_url) {
            const char *s = strstr(base_url, "://");
            const char *slash = s ? strchr(s + 3, '/') : NULL;
            snprintf(origin, sizeof origin, "%.*s",
                     (int)(slash ? (size_t)(slash - base_url) : strlen(base_url)), base_url);
        }
        size_t n = strlen(origin) + strlen(u) + 2;
        char *full = malloc(n);
        if (full)
            snprintf(full, n, "%s%s%s", origin, u[0] == '/' || !u[0] ? "" : "/", u);
        free(u);
        u = full;
    }
    while (u && *u && u[strlen(u) - 1] == '/')
        u[strlen(u) - 1] = '\0';
    return u;
}

int sc_openapi_parse(const char *name, const char *data, size_t len, const char *base_url,
                     sc_api *api, char *err, size_t errlen)
{
    memset(api, 0, sizeof *api);
    const char *p = data;
    while (p < data + len && isspace((unsigned char)*p))
        p++;
    cJSON *root = NULL;
    if (p < data + len && *p == '{') {
        root = cJSON_ParseWithLength(data, len);
        if (!root) {
            /* cJSON says where it stopped; turn that into line:column. */
            const char *at = cJSON_GetErrorPtr();
            size_t line = 1, col = 1;
            for (const char *q = data; at && q < at && q < data + len; q++) {
                if (*q == '\n') {
                    line++;
                    col = 1;
                } else {
                    col++;
                }
            }
            snprintf(err, errlen, "%s:%zu:%zu: invalid JSON", name, line, col);
            return -1;
        }
    } else {
        char why[512];
        root = sc_yaml_to_json(data, len, why, sizeof why);
        if (!root) {
            snprintf(err, errlen, "%s:%s", name, why);
            return -1;
        }
    }
    int rc = -1;
    const char *ver = cJSON_IsObject(root) ? str_of(root, "openapi") : NULL;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s: not an OpenAPI document (not an object)", name);
    } else if (!ver) {
        snprintf(err, errlen, "%s: not an OpenAPI 3 document: no 'openapi' version%s", name,
                 str_of(root, "swagger") ? " (Swagger 2.0 is not supported)" : "");
    } else if (strncmp(ver, "3.0", 3) != 0 && strncmp(ver, "3.1", 3) != 0) {
        snprintf(err, errlen, "%s: OpenAPI %s is not supported (3.0.x or 3.1.x)", name, ver);
    } else {
        api->version = strdup(ver);
        api->base = server_base(root, base_url);
        reader R = {.root = root};
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(root, "paths");
        static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                              "options", "head", "patch", "trace"};
        rc = api->version && api->base ? 0 : -1;
        for (const cJSON *pi = cJSON_IsObject(paths) ? paths->child : NULL; rc == 0 && pi;
             pi = pi->next) {
            if (!pi->string || pi->string[0] != '/')
                continue;
            const cJSON *item = deref(&R, pi);
            if (!cJSON_IsObject(item))
                continue;
            for (size_t m = 0; rc == 0 && m < sizeof methods / sizeof methods[0]; m++) {
                const cJSON *op = cJSON_GetObjectItemCaseSensitive(item, methods[m]);
                if (cJSON_IsObject(op))
                    rc = add_op(&R, api, methods[m], pi->string, item, op);
            }
        }
        if (rc != 0)
            snprintf(err, errlen, "%s: out of memory", name);
    }
    cJSON_Delete(root);
    if (rc != 0)
        sc_api_free(api);
    return rc;
}

void sc_api_free(sc_api *api)
{
    for (size_t i = 0; i < api->nops; i++) {
        sc_operation *o = &api->ops[i];
        free(o->method);
        free(o->path);
        free(o->url);
        free(o->operation_id);
        free(o->body);
        for (size_t k = 0; k < o->nsegments; k++) {
            free(o->segments[k].name);
            free(o->segments[k].value);
        }
        free(o->segments);
    }
    free(api->ops);
    free(api->version);
    free(api->base);
    memset(api, 0, sizeof *api);
}
