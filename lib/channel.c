/* placeholder until written */
#include "channel.h"
