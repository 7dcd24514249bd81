/*
 * Functions that DPDK defines `static inline` in its headers, and a thread-local
 * variable, exported as ordinary functions so that Rust can call them.
 */
#ifndef DAS_DPDK_SHIM_H
#define DAS_DPDK_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

/* rte_eth_rx_burst: receives up to n packets from a queue. */
uint16_t das_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t n);

/* rte_eth_tx_burst: sends up to n packets on a queue; returns how many it took. */
uint16_t das_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t n);

/* rte_pktmbuf_alloc_bulk: n fresh mbufs, or none (returns nonzero) if the pool lacks them. */
int das_pktmbuf_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **mbufs, unsigned int n);

/* rte_errno: the calling thread's last DPDK error number. */
int das_errno(void);

#endif
