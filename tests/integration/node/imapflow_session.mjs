// One imapflow session against postofficed, driven by
// tests/integration/test_imap_clients.py.  argv[2] is a JSON object:
//   {port, secure, ca, user, pass, idleTimeoutMs}
// Prints JSON lines on stdout: {"event": "idling"} once IDLE runs on INBOX
// (the test then delivers a message over LMTP), and at the end
// {"result": {...}} with what the client saw.  Exits non-zero with
// {"error": "..."} on any failure.  Every wait is bounded.
import fs from 'node:fs';
import { ImapFlow } from 'imapflow';

const cfg = JSON.parse(process.argv[2]);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const hardStop = setTimeout(() => {
	say({ error: 'imapflow session did not finish in time' });
	process.exit(3);
}, cfg.totalTimeoutMs || 90000);

function within(ms, promise, what) {
	let t;
	const timeout = new Promise((_, reject) => {
		t = setTimeout(() => reject(new Error('timeout: ' + what)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

async function flagsOf(client, uid) {
	const msg = await client.fetchOne(String(uid), { flags: true },
		{ uid: true });
	return [...msg.flags].sort();
}

async function main() {
	const client = new ImapFlow({
		host: '127.0.0.1',
		port: cfg.port,
		secure: cfg.secure,
		// Also for the plain port: imapflow upgrades with STARTTLS there.
		tls: { ca: [fs.readFileSync(cfg.ca)] },
		auth: { user: cfg.user, pass: cfg.pass },
		logger: false,
		disableAutoIdle: true,
		connectionTimeout: 20000,
		greetingTimeout: 20000,
		socketTimeout: 60000,
	});
	client.on('error', (err) => {
		say({ error: 'client error: ' + err.message });
		process.exit(2);
	});
	const out = {};
	await within(30000, client.connect(), 'connect');
	out.capabilities = [...client.capabilities.keys()];
	out.list = (await client.list()).map((m) => ({
		path: m.path,
		delimiter: m.delimiter,
		specialUse: m.specialUse || null,
		flags: [...m.flags].sort(),
	}));
	const lock = await client.getMailboxLock('INBOX');
	try {
		out.exists = client.mailbox.exists;
		out.uidValidity = String(client.mailbox.uidValidity);
		out.messages = [];
		for await (const msg of client.fetch('1:*',
			{ uid: true, flags: true, source: true, size: true })) {
			out.messages.push({
				uid: msg.uid,
				seq: msg.seq,
				size: msg.size,
				flags: [...msg.flags].sort(),
				source: msg.source.toString('base64'),
			});
		}
		const [first, second] = out.messages.map((m) => m.uid);
		await client.messageFlagsAdd(String(first),
			['\\Flagged', '$NodeTag'], { uid: true });
		out.afterAdd = await flagsOf(client, first);
		await client.messageFlagsRemove(String(first), ['\\Flagged'],
			{ uid: true });
		out.afterRemove = await flagsOf(client, first);
		const mv = await client.messageMove(String(second), 'Archive',
			{ uid: true });
		out.move = {
			destination: mv.destination,
			uidMap: mv.uidMap ? [...mv.uidMap.entries()] : null,
		};
		out.existsAfterMove = client.mailbox.exists;

		// IDLE: wait for the EXISTS of a delivery the test makes now
		const existsEvent = new Promise((resolve) => {
			client.on('exists', (data) => resolve({
				path: data.path,
				count: data.count,
				prevCount: data.prevCount,
			}));
		});
		const idling = client.idle();
		say({ event: 'idling' });
		out.existsEvent = await within(cfg.idleTimeoutMs || 20000,
			existsEvent, 'EXISTS while idling');
		// any command ends IDLE (imapflow sends DONE first)
		await client.noop();
		await within(20000, idling, 'IDLE to end');
		const last = await client.fetchOne('*', { uid: true, source: true });
		out.newest = { uid: last.uid,
			source: last.source.toString('base64') };
	} finally {
		lock.release();
	}
	await client.logout();
	clearTimeout(hardStop);
	say({ result: out });
}

main().catch((err) => {
	say({ error: String(err && err.stack ? err.stack : err) });
	process.exit(1);
});
