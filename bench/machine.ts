// What the numbers were measured on, and what else was using the CPU then:
// absolute figures on a shared 2-core machine mean little without it.
import fs from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  system: string;
  node: string;
}

export interface Load {
  at: string;
  /** 1, 5 and 15 minute load averages. */
  average: [number, number, number];
  /** Other processes that used at least 5% of a core over the sample, busiest first. */
  busy: { pid: number; command: string; percent: number }[];
}

export function describeMachine(): Machine {
  const debian = fs.existsSync('/etc/debian_version') ? `Debian ${fs.readFileSync('/etc/debian_version', 'utf8').trim()}` : os.version();
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    system: debian,
    node: process.version,
  };
}

/** utime + stime in clock ticks of every process, and its command line. */
function cpuTimes(): Map<number, { ticks: number; command: string }> {
  const times = new Map<number, { ticks: number; command: string }>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      const command = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() || stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      times.set(Number(name), { ticks, command });
    } catch {
      // Gone since readdir.
    }
  }
  return times;
}

// Linux reports process times in USER_HZ, which is 100 on every architecture it supports.
const TICKS_PER_S = 100;

/** The load averages, and which other processes were busy over `sampleMs`. */
export async function sampleLoad(sampleMs: number): Promise<Load> {
  const [one = 0, five = 0, fifteen = 0] = os.loadavg();
  const average: Load['average'] = [one, five, fifteen];
  if (sampleMs <= 0) return { at: new Date().toISOString(), average, busy: [] };
  const before = cpuTimes();
  await sleep(sampleMs);
  const after = cpuTimes();
  const busy = [...after]
    .filter(([pid]) => pid !== process.pid)
    .map(([pid, { ticks, command }]) => ({
      pid,
      command: command.length > 100 ? `${command.slice(0, 97)}…` : command,
      percent: Math.round(((ticks - (before.get(pid)?.ticks ?? ticks)) / TICKS_PER_S / (sampleMs / 1000)) * 100),
    }))
    .filter((p) => p.percent >= 5)
    .sort((a, b) => b.percent - a.percent);
  return { at: new Date().toISOString(), average, busy };
}
