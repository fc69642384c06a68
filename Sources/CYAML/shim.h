#ifndef INTOPS_CYAML_SHIM_H
#define INTOPS_CYAML_SHIM_H
#include <yaml.h>
#endif
