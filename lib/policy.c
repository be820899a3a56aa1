/* placeholder until written */
#include "policy.h"
