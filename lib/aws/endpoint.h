/* Region and service endpoints from the standard AWS environment: AWS_REGION,
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE> (so tests and local
 * emulators need no code change), AWS_IGNORE_CONFIGURED_ENDPOINT_URLS. */
#ifndef MCPGATE_AWS_ENDPOINT_H
#define MCPGATE_AWS_ENDPOINT_H

#include <stddef.h>

#define AWS_REGION_MAX 64
#define AWS_ENDPOINT_URL_MAX 512

/* The region from AWS_REGION, else AWS_DEFAULT_REGION. Returns 0, or -1 when neither is set
 * or the value is not a region name ([a-z0-9-], at most AWS_REGION_MAX; logged). */
int aws_region_from_env(char *out, size_t cap);

/* "Bedrock Runtime" -> "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": the service id upper-cased, spaces
 * and hyphens made underscores. Returns 0, or -1 when it does not fit or has other bytes. */
int aws_endpoint_env_name(const char *service_id, char *out, size_t cap);

/* The base URL (no trailing slash) for a service: AWS_ENDPOINT_URL_<SERVICE>, else
 * AWS_ENDPOINT_URL, else https://<endpoint_prefix>.<region>.amazonaws.com (".com.cn" in
 * China; with region NULL, the global https://<endpoint_prefix>.amazonaws.com). A configured
 * URL must be http:// or https:// with no blanks or control bytes; a bad one is an error
 * (logged) rather than a silent fall-back to the real endpoint. Returns 0 or -1. */
int aws_endpoint_url(const char *service_id, const char *endpoint_prefix, const char *region,
                     char *out, size_t cap);

/* Whether `region` is a syntactically valid region name. */
int aws_region_valid(const char *region);

#endif
