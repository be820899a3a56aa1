/* placeholder until written */
#include "sandbox.h"
