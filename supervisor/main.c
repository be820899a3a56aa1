/* mcpgate: the appliance's command line. `run` supervises the roles; `check-config`,
 * `keygen` and `version` are the operator's tools. */
#include <stdio.h>
#include <string.h>

#include "build_config.h"
#include "config.h"
#include "keygen.h"
#include "log.h"
#include "supervise.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mcpgate run -c CONFIG        start the appliance (foreground); CONFIG is a\n"
		"                                    file or secretsmanager:NAME (a secret holding it)\n"
		"       mcpgate check-config CONFIG  validate a configuration file\n"
		"       mcpgate keygen --client NAME --roles R[,R] [--rpm N] [--expires DATE]\n"
		"                      [--keys-file FILE]\n"
		"       mcpgate version\n");
}

static int check_config(const char *path)
{
	struct config cfg;
	struct config_error err;
	if (config_load_file(path, &cfg, &err) != 0) {
		fprintf(stderr, "%s\n", err.text);
		return EXIT_CONFIG;
	}
	printf("%s: ok (%zu listener%s, %zu server%s)\n", path, cfg.n_listeners,
	       cfg.n_listeners == 1 ? "" : "s", cfg.n_servers, cfg.n_servers == 1 ? "" : "s");
	config_free(&cfg);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("supervisor");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "run") == 0) {
		if (argc == 4 && strcmp(argv[2], "-c") == 0)
			return supervise_run(argv[3]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "check-config") == 0) {
		if (argc != 3) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return check_config(argv[2]);
	}
	if (strcmp(cmd, "keygen") == 0)
		return keygen_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("mcpgate %s\n", MCPGATE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mcpgate: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
