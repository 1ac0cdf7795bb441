// The plugin of docs/PLUGINS.md: the Scale layer ("### Layers, ...", scale.inc), then "The
// smallest plugin" (plugin.inc), which registers it.
#include "scale.inc"
#include "plugin.inc"
