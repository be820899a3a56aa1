/* placeholder until written */
#include "role.h"
