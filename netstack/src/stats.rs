//! Where counters are derived rather than counted: Linux prints the named
//! per-type ICMP counters (InEchos, Icmp6OutEchoReplies, ...) from its per-type
//! tables, so sandnet counts each message once, by type, and folds here.

use crate::inet::{Snmp6Stats, SnmpStats};

pub(crate) fn fold_icmp_msg(snmp: &mut SnmpStats, snmp6: &mut Snmp6Stats) {
    let (i, o) = (&snmp.icmp_msg.in_type, &snmp.icmp_msg.out_type);
    let c = &mut snmp.icmp;
    // icmpmibmap in net/ipv4/proc.c.
    (c.InDestUnreachs, c.OutDestUnreachs) = (i[3], o[3]);
    (c.InTimeExcds, c.OutTimeExcds) = (i[11], o[11]);
    (c.InParmProbs, c.OutParmProbs) = (i[12], o[12]);
    (c.InSrcQuenchs, c.OutSrcQuenchs) = (i[4], o[4]);
    (c.InRedirects, c.OutRedirects) = (i[5], o[5]);
    (c.InEchos, c.OutEchos) = (i[8], o[8]);
    (c.InEchoReps, c.OutEchoReps) = (i[0], o[0]);
    (c.InTimestamps, c.OutTimestamps) = (i[13], o[13]);
    (c.InTimestampReps, c.OutTimestampReps) = (i[14], o[14]);
    (c.InAddrMasks, c.OutAddrMasks) = (i[17], o[17]);
    (c.InAddrMaskReps, c.OutAddrMaskReps) = (i[18], o[18]);

    let (i, o) = (&snmp6.icmp6_msg.in_type, &snmp6.icmp6_msg.out_type);
    let c = &mut snmp6.icmp6;
    // icmp6type2name in net/ipv6/proc.c.
    (c.Icmp6InDestUnreachs, c.Icmp6OutDestUnreachs) = (i[1], o[1]);
    (c.Icmp6InPktTooBigs, c.Icmp6OutPktTooBigs) = (i[2], o[2]);
    (c.Icmp6InTimeExcds, c.Icmp6OutTimeExcds) = (i[3], o[3]);
    (c.Icmp6InParmProblems, c.Icmp6OutParmProblems) = (i[4], o[4]);
    (c.Icmp6InEchos, c.Icmp6OutEchos) = (i[128], o[128]);
    (c.Icmp6InEchoReplies, c.Icmp6OutEchoReplies) = (i[129], o[129]);
    (c.Icmp6InGroupMembQueries, c.Icmp6OutGroupMembQueries) = (i[130], o[130]);
    (c.Icmp6InGroupMembResponses, c.Icmp6OutGroupMembResponses) = (i[131], o[131]);
    (c.Icmp6InGroupMembReductions, c.Icmp6OutGroupMembReductions) = (i[132], o[132]);
    (c.Icmp6InRouterSolicits, c.Icmp6OutRouterSolicits) = (i[133], o[133]);
    (
        c.Icmp6InRouterAdvertisements,
        c.Icmp6OutRouterAdvertisements,
    ) = (i[134], o[134]);
    (c.Icmp6InNeighborSolicits, c.Icmp6OutNeighborSolicits) = (i[135], o[135]);
    (
        c.Icmp6InNeighborAdvertisements,
        c.Icmp6OutNeighborAdvertisements,
    ) = (i[136], o[136]);
    (c.Icmp6InRedirects, c.Icmp6OutRedirects) = (i[137], o[137]);
    (c.Icmp6InMLDv2Reports, c.Icmp6OutMLDv2Reports) = (i[143], o[143]);
}
