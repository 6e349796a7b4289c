/*
 * plugins/http/ca.c - the `fault ca` command plugin: a local certificate
 * authority for HTTPS interception (fault run --http-intercept).
 *
 *   fault ca generate [--ca-dir DIR] [--ca-name NAME] [--ca-days N] [--force]
 *       writes DIR/ca.pem (the certificate clients must trust) and
 *       DIR/ca-key.pem (its key, mode 0600; keep it private). DIR defaults
 *       to $FAULT_CA_DIR, else $XDG_CONFIG_HOME/fault/ca, else
 *       ~/.config/fault/ca, which is where --http-intercept looks when no
 *       --http-intercept-ca is given. An existing CA is kept unless --force.
 *   fault ca path [--ca-dir DIR]
 *       prints the path of ca.pem (for curl --cacert, or a trust store).
 *
 * Built from the http plugin's directory because it shares pki.c with it;
 * it is a separate plugin so that running it never starts the proxy.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proxy.h"

typedef struct ca_state {
    const char *dir;
    const char *name;
    int64_t days;
    bool force;
} ca_state;

#define OFF(f) offsetof(ca_state, f)

static const fault_option options[] = {
    {.name = "ca-dir",
     .env = "FAULT_CA_DIR",
     .type = FAULT_OPT_STRING,
     .metavar = "DIR",
     .help = "Directory of ca.pem and ca-key.pem (default: $XDG_CONFIG_HOME/fault/ca or "
             "~/.config/fault/ca)",
     .offset = OFF(dir)},
    {.name = "ca-name",
     .env = "FAULT_CA_NAME",
     .type = FAULT_OPT_STRING,
     .def = "fault local CA",
     .metavar = "NAME",
     .help = "Common name of a generated CA",
     .offset = OFF(name)},
    {.name = "ca-days",
     .env = "FAULT_CA_DAYS",
     .type = FAULT_OPT_INT,
     .def = "825",
     .metavar = "N",
     .help = "Days a generated CA is valid",
     .offset = OFF(days),
     .min = 1,
     .max = 36500},
    {.name = "force",
     .env = "FAULT_CA_FORCE",
     .type = FAULT_OPT_BOOL,
     .help = "Replace an existing CA",
     .offset = OFF(force)},
    FAULT_OPTION_END};

static int run(void *state, int argc, char **argv)
{
    ca_state *st = state;
    char dir[4096];
    if (st->dir && st->dir[0])
        snprintf(dir, sizeof dir, "%s", st->dir);
    else
        hp_pki_default_dir(dir, sizeof dir);
    if (argc == 1 && strcmp(argv[0], "generate") == 0) {
        char err[512];
        if (hp_pki_generate(dir, st->name, (int)st->days, st->force, err, sizeof err) < 0) {
            fprintf(stderr, "fault: ca: %s\n", err);
            return 1;
        }
        printf("%s/ca.pem\n", dir);
        fprintf(stderr,
                "fault: ca: wrote %s/ca.pem and %s/ca-key.pem (keep the key private).\n"
                "Clients must trust ca.pem (curl --cacert %s/ca.pem); then\n"
                "  fault run --http-intercept ...\n"
                "intercepts HTTPS through the forward proxy.\n",
                dir, dir, dir);
        return 0;
    }
    if (argc == 1 && strcmp(argv[0], "path") == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/ca.pem", dir);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "fault: ca: %s: %s (run 'fault ca generate')\n", path, strerror(errno));
            return 1;
        }
        printf("%s\n", path);
        return 0;
    }
    fprintf(stderr, "fault: ca: expected 'generate' or 'path' (see 'fault ca --help')\n");
    return 2;
}

static const fault_command_ops command = {
    .name = "ca",
    .summary = "Make a local CA for HTTPS interception (fault run --http-intercept)",
    .usage = "generate|path [--ca-dir DIR] [--force]",
    .run = run,
};

/* Loaded for `fault ca` only (and --help, `fault plugins`, the docs). */
FAULT_PLUGIN_HINT(FAULT_KIND_COMMAND, "ca");

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_COMMAND, .name = "ca", .version = PACKAGE_VERSION,
                    .summary = "local CA for HTTPS interception (fault ca generate)",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(ca_state),
                    .command = &command);
