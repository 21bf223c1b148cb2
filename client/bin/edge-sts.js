#!/usr/bin/env node
// @ts-check
/** The `edge-sts` executable: runs the CLI and exits with its code once output is flushed. */
import { main } from "../cli/main.js";

process.exitCode = await main(process.argv.slice(2), process.env);
