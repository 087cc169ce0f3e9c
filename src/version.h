/* xdsgate's release version, printed by --version and sent to the control plane. */
#ifndef XG_VERSION_H
#define XG_VERSION_H

#define XG_VERSION "0.1.0-dev"

#endif
