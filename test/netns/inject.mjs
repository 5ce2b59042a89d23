// Sends hand-made IPv4 packets (IP header included, as hex arguments) out of
// an interface: `node inject.mjs IFNAME HEX...`. Used to feed a running vipd
// malformed and foreign VRRP traffic.
import raw from 'raw-socket';

const [ifname, ...packets] = process.argv.slice(2);
const sock = raw.createSocket({ protocol: 112, addressFamily: raw.AddressFamily.IPv4 });
const dev = Buffer.from(`${ifname}\0`);
sock.setOption(1, 25, dev, dev.length); // SO_BINDTODEVICE
sock.setOption(0, 3, 1); // IP_HDRINCL
let left = packets.length;
for (const hex of packets) {
  const pkt = Buffer.from(hex, 'hex');
  const dst = [...pkt.subarray(16, 20)].join('.');
  sock.send(pkt, 0, pkt.length, dst, null, (err) => {
    if (err) {
      console.error(err.message);
      process.exitCode = 1;
    }
    if (--left === 0) sock.close();
  });
}
