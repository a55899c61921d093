//! Counters, named and ordered exactly as Linux prints them in /proc/net/dev,
//! /proc/net/snmp, /proc/net/snmp6 and /proc/net/netstat.

use std::collections::BTreeMap;

/// Declares a group of u64 counters whose field names are Linux's own, with
/// the names in Linux's order for renderers.
macro_rules! counter_group {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$doc])*
        #[allow(non_snake_case)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $(pub $field: u64,)*
        }

        impl $name {
            /// Field names, in the kernel's order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Values, in the order of `NAMES`.
            pub fn values(&self) -> Vec<u64> {
                vec![$(self.$field),*]
            }

            /// Sets the counter Linux calls `name`; false if the group has none.
            pub fn set(&mut self, name: &str, value: u64) -> bool {
                match name {
                    $(stringify!($field) => self.$field = value,)*
                    _ => return false,
                }
                true
            }
        }
    };
}

counter_group! {
    /// The 16 counters of a /proc/net/dev row, counted where packets cross the link.
    DevStats {
        rx_bytes, rx_packets, rx_errs, rx_drop, rx_fifo, rx_frame, rx_compressed, rx_multicast,
        tx_bytes, tx_packets, tx_errs, tx_drop, tx_fifo, tx_colls, tx_carrier, tx_compressed,
    }
}

counter_group! {
    /// `Ip:` of /proc/net/snmp (ipstats_mib plus Forwarding and DefaultTTL).
    Ip {
        Forwarding, DefaultTTL, InReceives, InHdrErrors, InAddrErrors, ForwDatagrams,
        InUnknownProtos, InDiscards, InDelivers, OutRequests, OutDiscards, OutNoRoutes,
        ReasmTimeout, ReasmReqds, ReasmOKs, ReasmFails, FragOKs, FragFails, FragCreates,
        OutTransmits,
    }
}

counter_group! {
    /// `Icmp:` of /proc/net/snmp.
    Icmp {
        InMsgs, InErrors, InCsumErrors, InDestUnreachs, InTimeExcds, InParmProbs, InSrcQuenchs,
        InRedirects, InEchos, InEchoReps, InTimestamps, InTimestampReps, InAddrMasks,
        InAddrMaskReps, OutMsgs, OutErrors, OutRateLimitGlobal, OutRateLimitHost,
        OutDestUnreachs, OutTimeExcds, OutParmProbs, OutSrcQuenchs, OutRedirects, OutEchos,
        OutEchoReps, OutTimestamps, OutTimestampReps, OutAddrMasks, OutAddrMaskReps,
    }
}

counter_group! {
    /// `Tcp:` of /proc/net/snmp. MaxConn is signed in Linux (-1: no limit) and
    /// kept here as its two's-complement bits.
    Tcp {
        RtoAlgorithm, RtoMin, RtoMax, MaxConn, ActiveOpens, PassiveOpens, AttemptFails,
        EstabResets, CurrEstab, InSegs, OutSegs, RetransSegs, InErrs, OutRsts, InCsumErrors,
    }
}

counter_group! {
    /// `Udp:` of /proc/net/snmp.
    Udp {
        InDatagrams, NoPorts, InErrors, OutDatagrams, RcvbufErrors, SndbufErrors, InCsumErrors,
        IgnoredMulti, MemErrors,
    }
}

counter_group! {
    /// `UdpLite:` of /proc/net/snmp (sandnet has no UDP-Lite sockets: it stays zero).
    UdpLite {
        InDatagrams, NoPorts, InErrors, OutDatagrams, RcvbufErrors, SndbufErrors, InCsumErrors,
        IgnoredMulti, MemErrors,
    }
}

counter_group! {
    /// `IpExt:` of /proc/net/netstat.
    IpExt {
        InNoRoutes, InTruncatedPkts, InMcastPkts, OutMcastPkts, InBcastPkts, OutBcastPkts,
        InOctets, OutOctets, InMcastOctets, OutMcastOctets, InBcastOctets, OutBcastOctets,
        InCsumErrors, InNoECTPkts, InECT1Pkts, InECT0Pkts, InCEPkts, ReasmOverlaps,
    }
}

counter_group! {
    /// The `Ip6*` block of /proc/net/snmp6.
    Ip6 {
        Ip6InReceives, Ip6InHdrErrors, Ip6InTooBigErrors, Ip6InNoRoutes, Ip6InAddrErrors,
        Ip6InUnknownProtos, Ip6InTruncatedPkts, Ip6InDiscards, Ip6InDelivers,
        Ip6OutForwDatagrams, Ip6OutRequests, Ip6OutDiscards, Ip6OutNoRoutes, Ip6ReasmTimeout,
        Ip6ReasmReqds, Ip6ReasmOKs, Ip6ReasmFails, Ip6FragOKs, Ip6FragFails, Ip6FragCreates,
        Ip6InMcastPkts, Ip6OutMcastPkts, Ip6InOctets, Ip6OutOctets, Ip6InMcastOctets,
        Ip6OutMcastOctets, Ip6InBcastOctets, Ip6OutBcastOctets, Ip6InNoECTPkts, Ip6InECT1Pkts,
        Ip6InECT0Pkts, Ip6InCEPkts, Ip6OutTransmits,
    }
}

counter_group! {
    /// The `Icmp6*` block of /proc/net/snmp6, before the per-type lines.
    Icmp6 {
        Icmp6InMsgs, Icmp6InErrors, Icmp6OutMsgs, Icmp6OutErrors, Icmp6InCsumErrors,
        Icmp6OutRateLimitHost, Icmp6InDestUnreachs, Icmp6InPktTooBigs, Icmp6InTimeExcds,
        Icmp6InParmProblems, Icmp6InEchos, Icmp6InEchoReplies, Icmp6InGroupMembQueries,
        Icmp6InGroupMembResponses, Icmp6InGroupMembReductions, Icmp6InRouterSolicits,
        Icmp6InRouterAdvertisements, Icmp6InNeighborSolicits, Icmp6InNeighborAdvertisements,
        Icmp6InRedirects, Icmp6InMLDv2Reports, Icmp6OutDestUnreachs, Icmp6OutPktTooBigs,
        Icmp6OutTimeExcds, Icmp6OutParmProblems, Icmp6OutEchos, Icmp6OutEchoReplies,
        Icmp6OutGroupMembQueries, Icmp6OutGroupMembResponses, Icmp6OutGroupMembReductions,
        Icmp6OutRouterSolicits, Icmp6OutRouterAdvertisements, Icmp6OutNeighborSolicits,
        Icmp6OutNeighborAdvertisements, Icmp6OutRedirects, Icmp6OutMLDv2Reports,
    }
}

counter_group! {
    /// The `Udp6*` block of /proc/net/snmp6.
    Udp6 {
        Udp6InDatagrams, Udp6NoPorts, Udp6InErrors, Udp6OutDatagrams, Udp6RcvbufErrors,
        Udp6SndbufErrors, Udp6InCsumErrors, Udp6IgnoredMulti, Udp6MemErrors,
    }
}

counter_group! {
    /// The `UdpLite6*` block of /proc/net/snmp6 (always zero in sandnet).
    UdpLite6 {
        UdpLite6InDatagrams, UdpLite6NoPorts, UdpLite6InErrors, UdpLite6OutDatagrams,
        UdpLite6RcvbufErrors, UdpLite6SndbufErrors, UdpLite6InCsumErrors, UdpLite6MemErrors,
    }
}

/// Per-ICMP-type message counts (`IcmpMsg:` in snmp, `Icmp6InTypeN` in snmp6),
/// indexed by type. Linux prints only the non-zero ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpMsg {
    pub in_type: [u64; 256],
    pub out_type: [u64; 256],
}

impl Default for IcmpMsg {
    fn default() -> Self {
        IcmpMsg {
            in_type: [0; 256],
            out_type: [0; 256],
        }
    }
}

/// The IPv4 half: /proc/net/snmp plus IpExt of /proc/net/netstat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnmpStats {
    pub ip: Ip,
    pub icmp: Icmp,
    pub icmp_msg: IcmpMsg,
    pub tcp: Tcp,
    pub udp: Udp,
    pub udp_lite: UdpLite,
    pub ip_ext: IpExt,
    pub tcp_ext: TcpExt,
    pub mptcp_ext: MPTcpExt,
}

impl Default for SnmpStats {
    fn default() -> Self {
        SnmpStats {
            // Forwarding 2 is "not a router", DefaultTTL 64; RtoAlgorithm 1 (other),
            // RtoMin/RtoMax in ms, MaxConn -1: the constants Linux prints.
            ip: Ip {
                Forwarding: 2,
                DefaultTTL: 64,
                ..Ip::default()
            },
            icmp: Icmp::default(),
            icmp_msg: IcmpMsg::default(),
            tcp: Tcp {
                RtoAlgorithm: 1,
                RtoMin: 200,
                RtoMax: 120_000,
                MaxConn: u64::MAX,
                ..Tcp::default()
            },
            udp: Udp::default(),
            udp_lite: UdpLite::default(),
            ip_ext: IpExt::default(),
            tcp_ext: TcpExt::default(),
            mptcp_ext: MPTcpExt::default(),
        }
    }
}

/// The IPv6 half: /proc/net/snmp6.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snmp6Stats {
    pub ip6: Ip6,
    pub icmp6: Icmp6,
    pub icmp6_msg: IcmpMsg,
    pub udp6: Udp6,
    pub udp_lite6: UdpLite6,
}

/// Every counter a stack keeps: per interface (by ifindex) and stack-wide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Statistics {
    pub dev: BTreeMap<u32, DevStats>,
    pub snmp: SnmpStats,
    pub snmp6: Snmp6Stats,
}

counter_group! {
    /// `TcpExt:` of /proc/net/netstat (Linux 6.18's list).
    TcpExt {
        SyncookiesSent, SyncookiesRecv, SyncookiesFailed, EmbryonicRsts, PruneCalled, RcvPruned,
        OfoPruned, OutOfWindowIcmps, LockDroppedIcmps, ArpFilter, TW, TWRecycled, TWKilled,
        PAWSActive, PAWSEstab, BeyondWindow, TSEcrRejected, PAWSOldAck, PAWSTimewait,
        DelayedACKs, DelayedACKLocked, DelayedACKLost, ListenOverflows, ListenDrops, TCPHPHits,
        TCPPureAcks, TCPHPAcks, TCPRenoRecovery, TCPSackRecovery, TCPSACKReneging,
        TCPSACKReorder, TCPRenoReorder, TCPTSReorder, TCPFullUndo, TCPPartialUndo, TCPDSACKUndo,
        TCPLossUndo, TCPLostRetransmit, TCPRenoFailures, TCPSackFailures, TCPLossFailures,
        TCPFastRetrans, TCPSlowStartRetrans, TCPTimeouts, TCPLossProbes, TCPLossProbeRecovery,
        TCPRenoRecoveryFail, TCPSackRecoveryFail, TCPRcvCollapsed, TCPBacklogCoalesce,
        TCPDSACKOldSent, TCPDSACKOfoSent, TCPDSACKRecv, TCPDSACKOfoRecv, TCPAbortOnData,
        TCPAbortOnClose, TCPAbortOnMemory, TCPAbortOnTimeout, TCPAbortOnLinger, TCPAbortFailed,
        TCPMemoryPressures, TCPMemoryPressuresChrono, TCPSACKDiscard, TCPDSACKIgnoredOld,
        TCPDSACKIgnoredNoUndo, TCPSpuriousRTOs, TCPMD5NotFound, TCPMD5Unexpected, TCPMD5Failure,
        TCPSackShifted, TCPSackMerged, TCPSackShiftFallback, TCPBacklogDrop, PFMemallocDrop,
        TCPMinTTLDrop, TCPDeferAcceptDrop, IPReversePathFilter, TCPTimeWaitOverflow,
        TCPReqQFullDoCookies, TCPReqQFullDrop, TCPRetransFail, TCPRcvCoalesce, TCPOFOQueue,
        TCPOFODrop, TCPOFOMerge, TCPChallengeACK, TCPSYNChallenge, TCPFastOpenActive,
        TCPFastOpenActiveFail, TCPFastOpenPassive, TCPFastOpenPassiveFail,
        TCPFastOpenListenOverflow, TCPFastOpenCookieReqd, TCPFastOpenBlackhole,
        TCPSpuriousRtxHostQueues, BusyPollRxPackets, TCPAutoCorking, TCPFromZeroWindowAdv,
        TCPToZeroWindowAdv, TCPWantZeroWindowAdv, TCPSynRetrans, TCPOrigDataSent,
        TCPHystartTrainDetect, TCPHystartTrainCwnd, TCPHystartDelayDetect, TCPHystartDelayCwnd,
        TCPACKSkippedSynRecv, TCPACKSkippedPAWS, TCPACKSkippedSeq, TCPACKSkippedFinWait2,
        TCPACKSkippedTimeWait, TCPACKSkippedChallenge, TCPWinProbe, TCPKeepAlive, TCPMTUPFail,
        TCPMTUPSuccess, TCPDelivered, TCPDeliveredCE, TCPAckCompressed, TCPZeroWindowDrop,
        TCPRcvQDrop, TCPWqueueTooBig, TCPFastOpenPassiveAltKey, TcpTimeoutRehash,
        TcpDuplicateDataRehash, TCPDSACKRecvSegs, TCPDSACKIgnoredDubious, TCPMigrateReqSuccess,
        TCPMigrateReqFailure, TCPPLBRehash, TCPAORequired, TCPAOBad, TCPAOKeyNotFound,
        TCPAOGood, TCPAODroppedIcmps,
    }
}

counter_group! {
    /// `MPTcpExt:` of /proc/net/netstat (sandnet has no MPTCP: it stays zero).
    MPTcpExt {
        MPCapableSYNRX, MPCapableSYNTX, MPCapableSYNACKRX, MPCapableACKRX, MPCapableFallbackACK,
        MPCapableFallbackSYNACK, MPCapableSYNTXDrop, MPCapableSYNTXDisabled,
        MPCapableEndpAttempt, MPFallbackTokenInit, MPTCPRetrans, MPJoinNoTokenFound,
        MPJoinSynRx, MPJoinSynBackupRx, MPJoinSynAckRx, MPJoinSynAckBackupRx,
        MPJoinSynAckHMacFailure, MPJoinAckRx, MPJoinAckHMacFailure, MPJoinRejected, MPJoinSynTx,
        MPJoinSynTxCreatSkErr, MPJoinSynTxBindErr, MPJoinSynTxConnectErr, DSSNotMatching,
        DSSCorruptionFallback, DSSCorruptionReset, InfiniteMapTx, InfiniteMapRx, DSSNoMatchTCP,
        DataCsumErr, OFOQueueTail, OFOQueue, OFOMerge, NoDSSInWindow, DuplicateData, AddAddr,
        AddAddrTx, AddAddrTxDrop, EchoAdd, EchoAddTx, EchoAddTxDrop, PortAdd, AddAddrDrop,
        MPJoinPortSynRx, MPJoinPortSynAckRx, MPJoinPortAckRx, MismatchPortSynRx,
        MismatchPortAckRx, RmAddr, RmAddrDrop, RmAddrTx, RmAddrTxDrop, RmSubflow, MPPrioTx,
        MPPrioRx, MPFailTx, MPFailRx, MPFastcloseTx, MPFastcloseRx, MPRstTx, MPRstRx,
        SubflowStale, SubflowRecover, SndWndShared, RcvWndShared, RcvWndConflictUpdate,
        RcvWndConflict, MPCurrEstab, Blackhole, MPCapableDataFallback, MD5SigFallback,
        DssFallback, SimultConnectFallback, FallbackFailed, WinProbe,
    }
}
