#ifndef CAAS_CLIBXML2_SHIM_H
#define CAAS_CLIBXML2_SHIM_H
// Foundation brings ICU's own headers; libxml2 built with ICU would then clash on UErrorCode.
// The gateway only reads UTF-8/Latin-1 through libxml2's own converters, so ICU is switched off here.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlerror.h>

// xmlFree is a global function pointer, not a function: Swift cannot call it directly.
static inline void caas_xml_free(void *p) { xmlFree(p); }
#endif
