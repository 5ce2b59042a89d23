// A config file's text to the typed Config: YAML parsed with positions, each
// section read by its module, every problem collected, the scripts it names
// checked on the file system. Pure but for that check: the same text gives the
// same Config, and nothing is half-applied — it loads whole or throws
// ConfigError listing each issue as `file:line:col: key: what; valid: ...`.

import { isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { announce, vrrpOwned } from './announce.js';
import { virtualServers } from './director.js';
import { resolveFileChecks } from './health-check.js';
import { ipvs } from './ipvs.js';
import { global } from './global.js';
import { metrics } from './metrics.js';
import { ConfigError, Fields, Reader } from './reader.js';
import { checkScripts, type ScriptRef } from './scripts.js';
import type { Config } from './types.js';
import { trackFiles, vrrpScripts } from './track.js';
import { trackProcesses } from './track-process.js';
import { vrrpInstances, vrrpSyncGroups } from './vrrp.js';

/** Parses and validates YAML text, scripts included (they must exist and be executable). Throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string): Config {
  return parseAndCheck(text, file).cfg;
}

/** parseConfig(), with the scripts the file names: a reload of the same text checks them again without a parse. */
export function parseAndCheck(text: string, file: string): { cfg: Config; scripts: ScriptRef[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const r = new Reader(file, lineCounter);
  for (const e of doc.errors) {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    r.issues.push({ file, line, col, path: '', message: `YAML syntax error: ${e.message.split('\n')[0]}` });
  }
  if (r.issues.length > 0) throw new ConfigError(r.issues);

  const f = new Fields(r);
  const root = doc.contents as Node | null;
  if (root === null || (isScalar(root) && root.value === null)) {
    r.issue(undefined, '', 'the file is empty; valid: a map with global, vrrp_instances and vrrp_sync_groups (see etc/vipd/vipd.yaml)');
    throw new ConfigError(r.issues);
  }
  const top = f.map(root, '', 'a map with global, vrrp_instances and vrrp_sync_groups');
  if (!top) throw new ConfigError(r.issues);
  top.allowOnly(['global', 'vrrp_scripts', 'vrrp_track_files', 'vrrp_track_processes', 'vrrp_instances', 'vrrp_sync_groups', 'virtual_server_groups', 'virtual_servers', 'ipvs', 'announce', 'metrics']);

  const globalCfg = global(f, top.value('global'));
  const { scripts, defaults: scriptDefaults } = vrrpScripts(f, top);
  const { files, defaults: fileDefaults } = trackFiles(f, top);
  const { processes, defaults: processDefaults } = trackProcesses(f, top);
  const known = { scripts: scriptDefaults, files: fileDefaults, processes: processDefaults };
  const { instances, nodes } = vrrpInstances(f, top, globalCfg, known);
  const syncGroups = vrrpSyncGroups(f, top, nodes, globalCfg, known);
  const services = virtualServers(f, top, vrrpOwned(instances));
  resolveFileChecks(f, files);
  const announceCfg = announce(f, top.value('announce'), scripts.map((s) => s.name));
  const ipvsCfg = ipvs(f, top.value('ipvs'), new Set(instances.map((i) => i.name)), services.some((v) => v.announce));
  const metricsCfg = metrics(f, top.value('metrics'));
  r.issues.push(...checkScripts(r.scripts, globalCfg.enableScriptSecurity));

  if (r.issues.length > 0) {
    r.issues.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(r.issues);
  }
  return {
    cfg: { file, global: globalCfg, instances, syncGroups, vrrpScripts: scripts, trackFiles: files, trackProcesses: processes, virtualServers: services, ipvs: ipvsCfg, announce: announceCfg, ...(metricsCfg ? { metrics: metricsCfg } : {}) },
    scripts: r.scripts,
  };
}
