// The catalog of every op in ops/op_list.inc, looked up by name.
//
//   const OpDef* exp = Ops().Find("exp");
//   for (const OpDef* op : Ops().All()) { ... }
#ifndef KILN_OPS_CATALOG_H_
#define KILN_OPS_CATALOG_H_

#include "graph/op_def.h"

namespace kiln {

const OpCatalog& Ops();

}  // namespace kiln

#endif  // KILN_OPS_CATALOG_H_
