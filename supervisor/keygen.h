/* `mcpgate keygen`: makes an API key (mcpg_<id>_<secret>), prints it once, and stores only
 * its record (id, client, roles, limits, expiry and the secret's SHA-256) in the keys file. */
#ifndef MCPGATE_KEYGEN_H
#define MCPGATE_KEYGEN_H

int keygen_main(int argc, char **argv);

#endif
