
/*
 * Copyright (C) bulletin authors
 *
 * The shipped templates, inside the builder: each NUL-terminated, with
 * its length (without the NUL) as a 64-bit symbol.  Paths are relative
 * to the repository's root, where the Makefile compiles this.
 */


    .section .rodata

    .globl  bulletin_template_default
    .type   bulletin_template_default, @object
    .balign 16
bulletin_template_default:
    .incbin "templates/default.html"
bulletin_template_default_end:
    .byte   0
    .size   bulletin_template_default, . - bulletin_template_default

    .globl  bulletin_template_default_len
    .type   bulletin_template_default_len, @object
    .balign 8
bulletin_template_default_len:
    .quad   bulletin_template_default_end - bulletin_template_default
    .size   bulletin_template_default_len, 8

    .globl  bulletin_template_index
    .type   bulletin_template_index, @object
    .balign 16
bulletin_template_index:
    .incbin "templates/index.html"
bulletin_template_index_end:
    .byte   0
    .size   bulletin_template_index, . - bulletin_template_index

    .globl  bulletin_template_index_len
    .type   bulletin_template_index_len, @object
    .balign 8
bulletin_template_index_len:
    .quad   bulletin_template_index_end - bulletin_template_index
    .size   bulletin_template_index_len, 8


    .section .note.GNU-stack, "", @progbits
