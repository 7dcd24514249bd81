# Reads an Emulab NS file without Emulab and prints what it asks for, one line per
# node and link, so tests can check it against a topology file:
#
#   tclsh ns-check.tcl FILE.ns
#   node NAME HARDWARE OS
#   link NAME NODE NODE BANDWIDTH
#
# It stands in for the simulator object and tb_compat.tcl's commands, and names nodes and
# links after the variables that hold them, as Emulab does (so each must be held by one).

set nodes {}
set links {}

proc new {class} {
    if {$class ne "Simulator"} { error "unknown class $class" }
    return sim
}

proc sim {command args} {
    global nodes links
    switch -- $command {
        node {
            set handle node[llength $nodes]
            lappend nodes $handle
            set ::hardware($handle) ?
            set ::os($handle) ?
            return $handle
        }
        duplex-link {
            if {[llength $args] != 5} { error "duplex-link A B BANDWIDTH DELAY QUEUE" }
            set handle link[llength $links]
            lappend links [list $handle {*}[lrange $args 0 2]]
            return $handle
        }
        rtproto { return }
        run { report }
        default { error "unsupported simulator command: $command" }
    }
}

proc tb-set-hardware {node type} { set ::hardware($node) $type }
proc tb-set-node-os {node os} { set ::os($node) $os }

# The variable that holds a handle (exactly one must).
proc name {handle} {
    set names {}
    foreach var [info globals] {
        if {![array exists ::$var] && [set ::$var] eq $handle} { lappend names $var }
    }
    if {[llength $names] != 1} { error "$handle is held by [llength $names] variables: $names" }
    return [lindex $names 0]
}

proc report {} {
    global nodes links
    foreach n $nodes { puts "node [name $n] $::hardware($n) $::os($n)" }
    foreach l $links {
        lassign $l handle a b bandwidth
        puts "link [name $handle] [name $a] [name $b] $bandwidth"
    }
}

rename source tcl_source
proc source {file} {
    if {$file eq "tb_compat.tcl"} { return }
    uplevel 1 [list tcl_source $file]
}
tcl_source [lindex $argv 0]
