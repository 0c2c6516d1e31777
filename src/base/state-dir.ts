// Where fos1 keeps its state on a node: the apply journal, XDP blocks made by `fos1 xdp block`,
// the DHCP client's files. On Talos /var is the persistent EPHEMERAL partition.
export const DEFAULT_STATE_DIR = "/var/lib/fos1";
