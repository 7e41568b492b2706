# bash completion for rumor(1). Installed as
# share/bash-completion/completions/rumor; or source it from ~/.bashrc.
#
# Completes the commands, their sub-commands, each form's options (the usage
# lines of `rumor help COMMAND`: tests/doc_test.py checks that they agree) and
# the values of options that take a fixed set. Room paths come from
# `rumor room list --json`, which needs the running node or an unprotected
# identity: the completion never asks for a passphrase (it runs rumor with
# no terminal), so without either it offers no rooms.

_rumor_commands="init id nick room send dm log status node peers peer passwd contact chat stats help"
_rumor_global_opts="--home --passphrase-file --help -h --version"
# Options that take a value (the next word is not a positional argument).
_rumor_value_opts="--home --passphrase-file --nick --topic --member --role --limit --listen --peer --config --log-format --new-passphrase-file"

# The sub-commands of a command (none for the others).
_rumor_subs() {
    case $1 in
    id) echo "export import" ;;
    room) echo "create list info move rename topic invite join kick leave role" ;;
    peer) echo "add" ;;
    contact) echo "add list remove" ;;
    esac
}

# The options of one form: "COMMAND" or "COMMAND SUB".
_rumor_opts() {
    case $1 in
    init) echo "--nick --no-passphrase --passphrase-file" ;;
    id | room\ list | room\ info | status | peers | contact\ list | stats) echo "--json" ;;
    id\ export | id\ import) echo "--passphrase-file" ;;
    room\ create) echo "--private --topic" ;;
    room\ invite) echo "--member --role --lan" ;;
    log) echo "--limit --follow --json" ;;
    node) echo "--listen --peer --no-lan --config --log-format" ;;
    passwd) echo "--new-passphrase-file --no-passphrase" ;;
    esac
}

# What the N-th positional argument (from 0) of a form is: room, room-or-top,
# role, file, command, or nothing.
_rumor_positional() {
    case "$1:$2" in
    room\ move:1) echo room-or-top ;;
    room\ role:2) echo role ;;
    room\ create:0 | room\ info:0 | room\ move:0 | room\ rename:0 | room\ topic:0) echo room ;;
    room\ invite:0 | room\ join:0 | room\ kick:0 | room\ leave:0 | room\ role:0) echo room ;;
    send:0 | log:0 | chat:0) echo room ;;
    id\ export:0 | id\ import:0) echo file ;;
    help:0) echo command ;;
    esac
}

# Room paths, quietly: nothing when rumor cannot list them without a passphrase.
_rumor_rooms() {
    local rumor=$1
    shift
    command -v "$rumor" >/dev/null 2>&1 || return 0
    local -a run=("$rumor" "$@" room list --json)
    command -v timeout >/dev/null 2>&1 && run=(timeout 5 "${run[@]}")
    # setsid: no controlling terminal, so rumor cannot prompt for a passphrase.
    command -v setsid >/dev/null 2>&1 && run=(setsid -w "${run[@]}")
    "${run[@]}" </dev/null 2>/dev/null | grep -o '"path":"[^"]*"' | cut -d'"' -f4
}

_rumor() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # The rumor to ask for rooms: the one being completed, when it is a path.
    local rumor=rumor
    [[ ${COMP_WORDS[0]} == */* && -x ${COMP_WORDS[0]} ]] && rumor=${COMP_WORDS[0]}

    # Global options, then the command and its sub-command.
    local -a global=()
    local i=1 cmd= sub=
    while ((i < COMP_CWORD)); do
        case ${COMP_WORDS[i]} in
        --home | --passphrase-file)
            ((i + 1 < COMP_CWORD)) && global+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}")
            ((i += 2))
            continue
            ;;
        -*) ;;
        *)
            cmd=${COMP_WORDS[i]}
            break
            ;;
        esac
        ((i++))
    done

    if [[ -z $cmd ]]; then
        case $prev in
        --home)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return 0
            ;;
        --passphrase-file)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return 0
            ;;
        esac
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$_rumor_global_opts" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$_rumor_commands" -- "$cur")
        fi
        return 0
    fi

    local subs
    subs=$(_rumor_subs "$cmd")
    ((i++))
    if [[ -n $subs ]]; then
        if ((i == COMP_CWORD)); then
            # `id` alone is a form too (id --json).
            if [[ $cur == -* ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$(_rumor_opts "$cmd")" -- "$cur")
            else
                mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
            fi
            return 0
        fi
        if [[ " $subs " == *" ${COMP_WORDS[i]} "* ]]; then
            sub=${COMP_WORDS[i]}
            ((i++))
        fi
    fi
    local form=$cmd${sub:+ $sub}

    # The value of an option.
    case $prev in
    --passphrase-file | --new-passphrase-file | --config)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
        ;;
    --role)
        mapfile -t COMPREPLY < <(compgen -W "member admin" -- "$cur")
        return 0
        ;;
    --log-format)
        mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur")
        return 0
        ;;
    --nick | --topic | --member | --limit | --listen | --peer)
        return 0
        ;;
    esac

    if [[ $cur == -* ]]; then
        local opts
        opts=$(_rumor_opts "$form")
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
        return 0
    fi

    # Which positional argument is being completed.
    local n=0 w
    for ((; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ " $_rumor_value_opts " == *" $w "* ]]; then
            ((i++))
        elif [[ $w != -* ]]; then
            ((n++))
        fi
    done
    case $(_rumor_positional "$form" "$n") in
    room) mapfile -t COMPREPLY < <(compgen -W "$(_rumor_rooms "$rumor" "${global[@]}")" -- "$cur") ;;
    room-or-top)
        mapfile -t COMPREPLY < <(compgen -W "/ $(_rumor_rooms "$rumor" "${global[@]}")" -- "$cur")
        ;;
    role) mapfile -t COMPREPLY < <(compgen -W "admin member" -- "$cur") ;;
    command) mapfile -t COMPREPLY < <(compgen -W "$_rumor_commands" -- "$cur") ;;
    file)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        ;;
    esac
    return 0
}

complete -F _rumor rumor
