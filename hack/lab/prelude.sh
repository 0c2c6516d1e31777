# Sourced before every lab command. Busybox's shell prefers its own applets to programs on
# PATH; a function wins over both, so `ip` is always iproute2's.
ip() { /usr/sbin/ip "$@"; }
export PATH=/usr/sbin:/usr/bin:/usr/local/bin
