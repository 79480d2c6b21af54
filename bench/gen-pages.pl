#!/usr/bin/perl
# Generates N small bulletin JSON files for the scale runs:
#   bench/gen-pages.pl N DIR
# Files go to DIR/dNNNN/pNNNNNNN.json, 1,000 to a folder (bulletin-build
# takes each folder as an input).  Page k has the id p%07d; its text
# varies with k, so that no two pages are the same bytes.

use strict;
use warnings;
use utf8;

my ($n, $dir) = @ARGV;
die "usage: $0 N DIR\n" unless defined $dir && $n =~ /^\d+$/ && $n > 0;
mkdir $dir unless -d $dir;

my @words = qw(社会组织 公益 资助 行动 服务 社区 志愿者 培训 项目 发布会
               基金会 儿童 关爱 垃圾分类 助力 计划 在线 启动 协作 发展);

binmode STDOUT, ':utf8';

for (my $k = 0; $k < $n; $k++) {
    my $sub = sprintf '%s/d%04d', $dir, int($k / 1000);
    mkdir $sub unless $k % 1000;

    my $text = '';
    my $x = $k * 2654435761 % 4294967296;
    for my $i (1 .. 24) {
        $x = ($x * 1103515245 + 12345) % 2147483648;
        $text .= $words[$x % @words];
        $text .= $i % 6 ? '、' : ',';
    }
    $text .= "第${k}期。";

    my $date = sprintf '20%02d-%02d-%02d', 10 + $k % 15, 1 + $k % 12,
                       1 + $k % 28;
    my $id = sprintf 'p%07d', $k;

    open my $f, '>:utf8', "$sub/$id.json" or die "$sub/$id.json: $!\n";
    print $f <<"JSON";
{"id": "$id", "title": "社会组织工作动态【第${k}期】",
 "category": "活动简报", "published": "$date",
 "source": "北京市社会组织管理中心",
 "blocks": [{"heading": "简报第${k}期"}, {"paragraph": "$text"}]}
JSON
    close $f or die "$sub/$id.json: $!\n";
}
