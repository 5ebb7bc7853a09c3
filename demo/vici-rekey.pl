#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0
#
# demo/vici-rekey.pl SOCKET: a minimal, long-running vici client for the
# demo.  Reads one CHILD_SA name per line on stdin, sends vici "rekey"
# {child = NAME} to charon's vici socket and prints "ok" or "fail: MESSAGE"
# per line.  It exists because starting swanctl costs seconds under TCG;
# this process is started once per gateway.  Only perl-base modules.
#
# vici wire format (strongSwan src/libcharon/plugins/vici/README.md):
# packet = u32 length (big endian) + payload; payload = u8 type
# (0 CMD_REQUEST, 1 CMD_RESPONSE, 2 CMD_UNKNOWN, 7 EVENT) + for requests
# u8 name length + name + message; message elements: 3 KEY_VALUE = u8 key
# length + key + u16 value length + value (1/2 section start/end, 4/5/6 list
# start/item/end).
use strict;
use warnings;
use IO::Socket::UNIX;

my $path = shift or die "usage: vici-rekey.pl SOCKET\n";
$path =~ s{^unix://}{};
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
	or die "vici-rekey: connect $path: $!\n";
$| = 1;

sub readn {
	my ($n) = @_;
	my $buf = '';
	while (length($buf) < $n) {
		my $r = sysread($s, $buf, $n - length($buf), length($buf));
		die "vici-rekey: connection closed\n" unless $r;
	}
	return $buf;
}

# parse a flat message into key => value (sections and lists skipped)
sub parse {
	my ($m) = @_;
	my (%kv, $i);
	$i = 0;
	while ($i < length($m)) {
		my $t = ord(substr($m, $i++, 1));
		if ($t == 1 || $t == 4) {		# section/list start: name
			my $l = ord(substr($m, $i++, 1));
			$i += $l;
		} elsif ($t == 3) {			# key = value
			my $l = ord(substr($m, $i++, 1));
			my $k = substr($m, $i, $l);
			$i += $l;
			my $vl = unpack('n', substr($m, $i, 2));
			$i += 2;
			$kv{$k} = substr($m, $i, $vl);
			$i += $vl;
		} elsif ($t == 5) {			# list item
			my $vl = unpack('n', substr($m, $i, 2));
			$i += 2 + $vl;
		}					# 2, 6: ends
	}
	return %kv;
}

while (my $child = <STDIN>) {
	chomp $child;
	next if $child eq '';
	my $msg = pack('C C/a* n/a*', 3, 'child', $child);
	my $payload = pack('C C/a*', 0, 'rekey') . $msg;
	syswrite($s, pack('N', length($payload)) . $payload);
	for (;;) {
		my $len = unpack('N', readn(4));
		my $p = readn($len);
		my $type = ord(substr($p, 0, 1));
		next if $type == 7;			# an event: not ours
		if ($type == 1) {
			my %r = parse(substr($p, 1));
			if (($r{success} // '') eq 'yes') {
				print "ok\n";
			} else {
				print "fail: ", ($r{errmsg} // 'no success'), "\n";
			}
		} else {
			print "fail: vici answered type $type\n";
		}
		last;
	}
}
