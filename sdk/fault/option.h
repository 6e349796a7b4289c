/*
 * fault/option.h - declarative options.
 *
 * A plugin describes its command-line flags once, in a table of
 * fault_option terminated by FAULT_OPTION_END. From that table the host
 * derives parsing and validation, the environment variable of each flag,
 * `--help` text, man pages and shell completion. Parsed values are written
 * into the plugin's state block (see fault_plugin_descriptor.state_size) at
 * the offset each option names, so a plugin reads its configuration as plain
 * struct fields.
 *
 * Precedence: built-in default < environment variable < command line.
 */
#ifndef FAULT_OPTION_H
#define FAULT_OPTION_H

#include <fault/common.h>

FAULT_BEGIN_DECLS

/* The C type stored at fault_option.offset for each option type. */
typedef enum fault_option_type {
    FAULT_OPT_BOOL = 1,        /* bool. A bare `--flag` sets true; `--flag=false` too. */
    FAULT_OPT_INT = 2,         /* int64_t. Decimal, optional sign. */
    FAULT_OPT_DOUBLE = 3,      /* double. Finite values only. */
    FAULT_OPT_STRING = 4,      /* const char *, owned by the host, NULL when unset. */
    FAULT_OPT_ENUM = 5,        /* int: index into fault_option.choices. */
    FAULT_OPT_DURATION = 6,    /* uint64_t microseconds. "250ms", "1m30s", "10" (s). */
    FAULT_OPT_LIST = 7,        /* fault_strv: repeatable; the environment
                                * variable holds a comma-separated list. */
    FAULT_OPT_SCHEDULE = 8,    /* fault_schedule *, host owned, NULL when unset.
                                * The host uses the plugin's schedule option to
                                * switch the plugin on and off during a run. */
    FAULT_OPT_PROBABILITY = 9, /* double in [0, 1]. */
    FAULT_OPT_SIDE = 10,       /* fault_side: "client", "server" or "any"
                                * (ABI 1.1) */
    FAULT_OPT_DIRECTION = 11   /* fault_direction: "ingress", "egress" or
                                * "both" (ABI 1.1) */
} fault_option_type;

/* Flags for fault_option.flags. */
#define FAULT_OPTF_ENABLE                                                                          \
    0x1u                       /* a BOOL that switches this plugin on                              \
                                * (`--with-latency`); a fault plugin whose                         \
                                * ENABLE option is false is never attached */
#define FAULT_OPTF_HIDDEN 0x2u /* accepted but left out of --help */
#define FAULT_OPTF_SET    0x4u /* reserved for the host: never set it */

/* A list of strings, for FAULT_OPT_LIST. Host owned. */
typedef struct fault_strv {
    const char *const *v; /* n entries */
    size_t n;
} fault_strv;

/* Opaque parsed schedule; see fault_plugin_active(). */
typedef struct fault_schedule fault_schedule;

typedef struct fault_option {
    const char *name; /* long flag without dashes, e.g. "latency-mean" */
    const char *env;  /* environment variable, e.g. "FAULT_LATENCY_MEAN";
                       * NULL derives FAULT_ + upper-cased name */
    fault_option_type type;
    const char *def;            /* default as it would be typed, or NULL for none */
    const char *help;           /* one line for --help */
    size_t offset;              /* where the value goes in the state block */
    const char *const *choices; /* FAULT_OPT_ENUM: NULL-terminated names;
                                 * "a|b" in one entry gives aliases of the
                                 * same value (e.g. "pareto-normal|paretonormal") */
    const char *metavar;        /* placeholder in --help ("MS", "RATE"); may be NULL */
    double min, max;            /* inclusive bounds for INT and DOUBLE when min < max */
    uint32_t flags;             /* FAULT_OPTF_* */
    int short_name;             /* one-letter alias ('s' gives -s), 0 for none */
    void *reserved[2];
} fault_option;

/* Terminates an option table. */
#define FAULT_OPTION_END                                                                           \
    {                                                                                              \
        NULL, NULL, (fault_option_type)0, NULL, NULL, 0, NULL, NULL, 0, 0, 0, 0,                   \
        {                                                                                          \
            NULL, NULL                                                                             \
        }                                                                                          \
    }

/* True when the user gave this option (on the command line or through its
 * environment variable) rather than it keeping its default. */
FAULT_API bool fault_option_is_set(fault_plugin *self, const char *name);

FAULT_END_DECLS

#endif /* FAULT_OPTION_H */
