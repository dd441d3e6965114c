#!/bin/sh
# Writes the COMMANDS section of baton(1), as a help2man include file, from the
# binary's own help: every subcommand, depth first, with its usage line, its
# description, its positionals and options. Usage: commands.sh BATON_BINARY
#
# It reads CLI11's help layout: a description, "Usage: ...", then sections
# ("Positionals:", "Options:", "Subcommands:") of entries indented by two
# spaces, whose description follows after two or more spaces or on lines
# indented further. help2man copies the text as roff, so it is escaped here.
set -eu

baton=$1

# The help text of `baton WORDS... --help` on stdin, as roff: the usage line as
# a .SS heading, the description, and a tagged paragraph per positional and
# option. Subcommand lists are left out: each subcommand has a heading of its own.
render() {
  LC_ALL=C awk '
    function roff(text) {
      gsub(/\\/, "\\e", text)
      sub(/^[.'\'']/, "\\\\&&", text)
      return text
    }
    function option(text) {
      text = roff(text)
      gsub(/-/, "\\-", text)
      gsub(/,/, ", ", text)
      return text
    }
    function flush() {
      if (name == "") return
      print ".TP"
      print "\\fB" option(name) "\\fR"
      if (text != "") print roff(text)
      name = ""
      text = ""
    }
    # The usage line is the heading; the description above it follows it.
    /^Usage: / && section == "" {
      usage = substr($0, 8)
      gsub(/"/, "\\(dq", usage)
      print ".SS \"" option(usage) "\""
      if (lines > 0) print ".PP"
      for (i = 1; i <= lines; i++) print roff(description[i])
      section = "usage"
      next
    }
    section == "" { description[++lines] = $0; next }
    /^$/ { flush(); next }
    /^[^ ].*:$/ {
      flush()
      section = $0
      if (section != "Positionals:" && section != "Options:" && section != "Subcommands:") {
        print ".PP"
        print roff(section)
      }
      next
    }
    section == "Subcommands:" { next }
    /^   / {
      line = $0
      sub(/^ +/, "", line)
      text = text (text == "" ? "" : " ") line
      next
    }
    /^  [^ ]/ {
      flush()
      line = substr($0, 3)
      split_at = index(line, "  ")
      if (split_at == 0) {
        name = line
      } else {
        name = substr(line, 1, split_at - 1)
        text = substr(line, split_at)
        sub(/^ +/, "", text)
      }
      # Every command has --help; the OPTIONS section says so once.
      if (name == "-h,--help") { name = ""; text = "" }
      next
    }
    { flush(); print ".PP"; print roff($0) }
    END { flush() }'
}

# The names listed under "Subcommands:" in a help text.
subcommands() {
  LC_ALL=C awk '
    /^Subcommands:$/ { inside = 1; next }
    /^[^ ]/ { inside = 0 }
    inside && /^  [^ ]/ { print $1 }'
}

walk() {
  help=$("$baton" "$@" --help)
  printf '%s\n' "$help" | render
  for subcommand in $(printf '%s\n' "$help" | subcommands); do
    walk "$@" "$subcommand"
  done
}

printf '%s\n' '[COMMANDS]' \
  'Each command also takes \fB\-h\fR, \fB\-\-help\fR and the global \fB\-\-config\fR option.'
for command in $("$baton" --help | subcommands); do
  walk "$command"
done
