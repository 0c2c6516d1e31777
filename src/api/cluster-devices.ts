// The devices Cilium creates on a node, as nftables interface-name patterns: cilium_host and
// cilium_net (the host's veth pair into the pod network), cilium_vxlan or cilium_geneve (the
// tunnel to the other nodes), cilium_wg0 (transparent encryption) and one lxc<hash> veth per pod.
export const CLUSTER_DEVICES = ["cilium_*", "lxc*"] as const;

/** The UDP port of Cilium's tunnel between nodes (Cilium's defaults), if it has one. */
export const TUNNEL_PORT = { vxlan: 8472, geneve: 6081, none: undefined } as const;

/** What nodes of a Cilium cluster reach on each other beyond the management ports: health checks and Hubble. */
export const NODE_TCP_PORTS = [4240, 4244] as const;
